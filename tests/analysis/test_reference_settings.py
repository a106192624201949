import pytest

from stainworth.analysis.reference_settings import AXES, axis_settings, select_settings
from stainworth.contracts.phantom import PhantomConfig
from stainworth.errors import ConfigError


def by_name():
    return {setting.name: setting for setting in axis_settings()}


def test_seven_settings_in_table_order():
    assert [s.name for s in axis_settings()] == [
        "default", "marker_only:off", "marker_only:doubled", "phase_only:off", "phase_only:doubled",
        "texture_coupling:coupled", "texture_coupling:uncoupled"]


def test_off_sets_every_field_of_the_group_to_zero_and_nothing_else():
    default = PhantomConfig()
    for axis in ("marker_only", "phase_only"):
        config = by_name()[f"{axis}:off"].apply(default)
        section, names = AXES[axis]
        assert all(getattr(getattr(config, section), name) == 0.0 for name in names)
        changed = {name for name in type(config.treatment).model_fields
                   if getattr(config.treatment, name) != getattr(default.treatment, name)}
        assert changed <= set(names)
        assert config.fluorescence == default.fluorescence and config.cells == default.cells


def test_doubled_is_twice_the_default_clipped_to_the_bounds():
    treatment = by_name()["marker_only:doubled"].apply(PhantomConfig()).treatment
    assert treatment.h3k27me3_loss == pytest.approx(0.30)
    assert treatment.h3k27me3_variation_increase == pytest.approx(1.0)
    assert treatment.foci_h3k27me3_shell == 1.0  # 1.2 clipped to its upper bound
    assert treatment.h3k27me3_peripheral_gain == pytest.approx(0.6)
    assert by_name()["phase_only:doubled"].apply(PhantomConfig()).treatment.dry_mass_dilution == pytest.approx(0.2)


def test_coupling_axis_is_fully_coupled_or_uncoupled():
    coupled = by_name()["texture_coupling:coupled"].apply(PhantomConfig()).fluorescence
    uncoupled = by_name()["texture_coupling:uncoupled"].apply(PhantomConfig()).fluorescence
    assert (coupled.h3k27me3_texture_coupling, coupled.h3k27me3_foci_fraction) == (1.0, 1.0)
    assert (uncoupled.h3k27me3_texture_coupling, uncoupled.h3k27me3_foci_fraction) == (0.0, 0.0)


def test_off_levels_are_the_default_off_and_coupled():
    assert [s.name for s in axis_settings() if s.is_off] == [
        "default", "marker_only:off", "phase_only:off", "texture_coupling:coupled"]


def test_select_refuses_unknown_names():
    assert [s.name for s in select_settings(axis_settings(), ["phase_only:off", "default"])] == [
        "default", "phase_only:off"]
    with pytest.raises(ConfigError, match=r"settings \['nosuch'\]: unknown; expected names among"):
        select_settings(axis_settings(), ["nosuch"])
