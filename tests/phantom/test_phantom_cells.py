import numpy as np
import pytest
from scipy import stats
from scipy.spatial import cKDTree

from stainworth.contracts.phantom import PhantomConfig
from stainworth.phantom.cells import nucleus_bound_px, sample_population

FIELD = (5000, 5000)  # 2.56 mm^2: about 2300 cells at the default density


def population(condition, *, seed=0, **sections):
    config = PhantomConfig.model_validate(sections)
    return sample_population(config, condition=condition, field_shape=FIELD,
                             rng=np.random.default_rng(seed),
                             marker_rng=np.random.default_rng([seed, 1]))


def interphase_excess(pop, name, n_medium=1.337):
    return (getattr(pop, name) - n_medium)[~pop.mitotic]


def cv(values):
    return values.std() / values.mean()


LABEL_FIELDS = ("h3k27me3_level", "h3k27me3_foci_count", "lamin_rim_modulation",
                "lamin_rim_order", "lamin_rim_phase")


def nucleus_area(pop):
    return np.pi * pop.nucleus_axes[:, 0] * pop.nucleus_axes[:, 1]


@pytest.fixture(scope="module")
def control():
    return population("control", seed=1)


@pytest.fixture(scope="module")
def treated():
    return population("treated", seed=2)


def test_density_is_honoured(control):
    expected = 900 * FIELD[0] * FIELD[1] * (0.32e-3) ** 2
    assert abs(len(control) - expected) < 5 * np.sqrt(expected)


def test_nuclei_never_overlap(control):
    bound = nucleus_bound_px(control.nucleus_axes, control.nucleus_harmonics)
    gap = 1.0 / 0.32
    pairs = cKDTree(control.nucleus_yx).query_pairs(2 * bound.max() + gap, output_type="ndarray")
    i, j = pairs[:, 0], pairs[:, 1]
    distance = np.hypot(*(control.nucleus_yx[i] - control.nucleus_yx[j]).T)
    assert len(pairs) > 100
    assert np.all(distance >= bound[i] + bound[j] + gap - 1e-9)


def test_treated_nuclei_are_larger_with_more_and_larger_foci(control, treated):
    interphase_c, interphase_t = ~control.mitotic, ~treated.mitotic
    area_ratio = nucleus_area(treated)[interphase_t].mean() / nucleus_area(control)[
        interphase_c].mean()
    assert 1.1 < area_ratio < 1.6
    assert treated.foci_count[interphase_t].mean() > 1.8 * control.foci_count[interphase_c].mean()
    assert treated.focus_radius_um.mean() > 1.2 * control.focus_radius_um.mean()
    assert treated.chromatin_correlation_um.mean() > control.chromatin_correlation_um.mean()
    assert treated.nucleolus_radius_um.mean() > control.nucleolus_radius_um.mean()
    assert treated.cytoplasm_thickness_um[interphase_t].mean() < control.cytoplasm_thickness_um[
        interphase_c].mean()


def test_classes_overlap_because_responses_vary(control, treated):
    area_c, area_t = nucleus_area(control), nucleus_area(treated)
    auc = stats.mannwhitneyu(area_t, area_c).statistic / (area_t.size * area_c.size)
    assert 0.6 < auc < 0.85
    assert abs(treated.responder.mean() - 0.75) < 0.05
    assert np.all(control.response == 0) and not control.responder.any()
    assert treated.response[~treated.responder].max() <= 0.1


def test_zero_strength_treated_matches_control_in_distribution(control):
    treated = population("treated", seed=3, treatment={"strength": 0.0})
    assert np.all(treated.response == 0)
    for values in (nucleus_area, lambda p: p.foci_count, lambda p: p.cytoplasm_thickness_um,
                   lambda p: p.nucleoli_count, lambda p: p.cytoplasm_index,
                   lambda p: interphase_excess(p, "nucleus_index"),
                   lambda p: p.nucleus_harmonics[:, :, 0].sum(axis=1),
                   lambda p: p.h3k27me3_level, lambda p: p.h3k27me3_foci_count,
                   lambda p: p.lamin_rim_modulation, lambda p: p.lamin_rim_order):
        assert stats.ks_2samp(values(control), values(treated)).pvalue > 0.01
    assert abs(nucleus_area(treated).mean() / nucleus_area(control).mean() - 1) < 0.03
    assert np.all(treated.lamin_rim_modulation == control.lamin_rim_modulation[0])


def test_h3k27me3_level_varies_per_cell_and_falls_and_spreads_with_treatment(control, treated):
    assert control.h3k27me3_level.mean() == pytest.approx(1.0, abs=0.02)
    assert cv(control.h3k27me3_level) == pytest.approx(0.2, abs=0.02)
    responders = treated.responder & (np.abs(treated.response - 1.0) < 0.2)
    assert responders.sum() > 300
    level = treated.h3k27me3_level[responders]
    loss = 1.0 - 0.15 * treated.response[responders]
    assert level.mean() == pytest.approx(loss.mean(), abs=0.03)
    assert level.mean() < 0.93 * control.h3k27me3_level.mean()
    assert cv(level / loss) == pytest.approx(0.3, abs=0.03)


def test_h3k27me3_level_is_exactly_one_without_variation_or_loss():
    pop = population("treated", seed=6, fluorescence={"h3k27me3_cell_variation": 0.0},
                     treatment={"h3k27me3_loss": 0.0})
    assert np.all(pop.h3k27me3_level == 1.0)
    gain = population("treated", seed=6, fluorescence={"h3k27me3_cell_variation": 0.0},
                      treatment={"h3k27me3_loss": -0.2})
    assert np.allclose(gain.h3k27me3_level, 1.0 + 0.2 * gain.response)


def test_a_share_of_the_foci_carries_h3k27me3(control, treated):
    for pop in (control, treated):
        assert np.all(pop.h3k27me3_foci_count <= pop.foci_count)
        assert pop.h3k27me3_foci_count.sum() / pop.foci_count.sum() == pytest.approx(0.6, abs=0.02)
    every = population("treated", seed=2, fluorescence={"h3k27me3_foci_fraction": 1.0})
    assert np.array_equal(every.h3k27me3_foci_count, every.foci_count)


def test_lamin_rim_modulation_grows_with_treatment(control, treated):
    assert np.all(control.lamin_rim_modulation == 0.1)
    expected = np.minimum(0.1 * (1 + 2.0 * treated.response), 1.0)
    assert np.allclose(treated.lamin_rim_modulation, expected)
    assert treated.lamin_rim_modulation.mean() > 2.0 * control.lamin_rim_modulation.mean()
    assert set(np.unique(control.lamin_rim_order)) == {2, 3, 4}
    assert 0.0 <= control.lamin_rim_phase.min() and control.lamin_rim_phase.max() < 2 * np.pi
    capped = population("treated", seed=2, fluorescence={"lamin_rim_modulation": 0.6})
    assert capped.lamin_rim_modulation.max() == 1.0


def test_dry_mass_dilution_lowers_the_index_excess_and_keeps_the_ratio():
    dense = population("treated", seed=2, treatment={"dry_mass_dilution": 0.0})
    diluted = population("treated", seed=2, treatment={"dry_mass_dilution": 0.3})
    keep = np.maximum(1 - 0.3 * diluted.response, 0.1)
    for name in ("cytoplasm_index", "nucleus_index"):
        ratio = interphase_excess(diluted, name) / interphase_excess(dense, name)
        assert np.allclose(ratio, keep[~diluted.mitotic])
    assert np.array_equal(diluted.nucleus_index[diluted.mitotic], dense.nucleus_index[dense.mitotic])
    assert np.mean(keep) < 0.85
    for name in ("nucleus_yx", "nucleus_axes", "nucleolus_index", "foci_count", *LABEL_FIELDS):
        assert np.array_equal(getattr(diluted, name), getattr(dense, name))
    control = population("control", seed=2, treatment={"dry_mass_dilution": 0.3})
    assert np.array_equal(control.cytoplasm_index, population("control", seed=2).cytoplasm_index)


def test_nuclear_irregularity_scales_the_outline_harmonics():
    plain = population("treated", seed=2, treatment={"nuclear_irregularity": 0.0})
    irregular = population("treated", seed=2, treatment={"nuclear_irregularity": 1.0})
    before, after = plain.nucleus_harmonics[:, :, 0], irregular.nucleus_harmonics[:, :, 0]
    assert np.allclose(after, np.minimum(before * (1 + irregular.response)[:, None], 0.3))
    assert after.mean() > 1.5 * before.mean()
    assert np.array_equal(irregular.nucleus_harmonics[:, :, 1], plain.nucleus_harmonics[:, :, 1])
    assert np.array_equal(irregular.cell_harmonics, plain.cell_harmonics)


def test_label_settings_do_not_shift_any_other_draw():
    default = population("treated", seed=2)
    changed = population(
        "treated", seed=2,
        fluorescence={"h3k27me3_cell_variation": 0.7, "h3k27me3_foci_fraction": 0.1,
                      "lamin_rim_modulation": 0.5, "h3k27me3_texture_coupling": 0.9},
        treatment={"h3k27me3_loss": 0.5, "h3k27me3_variation_increase": 2.0,
                   "lamin_rim_modulation_increase": 0.0, "foci_h3k27me3_shell": 1.0})
    for name in ("nucleus_yx", "cell_axes", "nucleus_axes", "nucleus_harmonics", "cytoplasm_index",
                 "nucleus_index", "foci_count", "focus_radius_um", "response", "mitotic",
                 "lamin_rim_order", "lamin_rim_phase"):
        assert np.array_equal(getattr(changed, name), getattr(default, name)), name
    assert not np.array_equal(changed.h3k27me3_level, default.h3k27me3_level)


def test_mitotic_fraction_is_honoured_and_reduced_by_treatment():
    control = population("control", seed=4, cells={"mitotic_fraction": 0.1})
    treated = population("treated", seed=5, cells={"mitotic_fraction": 0.1})
    sd = np.sqrt(0.1 * 0.9 / len(control))
    assert abs(control.mitotic.mean() - 0.1) < 4 * sd
    assert treated.mitotic.mean() < 0.6 * control.mitotic.mean()


def test_mitotic_cells_are_rounded_and_condensed(control):
    mitotic = control.mitotic
    assert mitotic.sum() > 20
    cell_aspect = control.cell_axes[:, 0] / control.cell_axes[:, 1]
    assert cell_aspect[mitotic].max() <= 1.15 + 1e-9
    assert control.cytoplasm_thickness_um[mitotic].min() >= 7.0
    assert control.nucleus_index[mitotic].min() >= 1.375
    assert np.all(control.nucleoli_count[mitotic] == 0)
    assert np.all(control.foci_count[mitotic] == 0)
    assert nucleus_area(control)[mitotic].mean() < 0.5 * nucleus_area(control)[~mitotic].mean()


def test_same_seed_same_population():
    a, b = population("treated", seed=9), population("treated", seed=9)
    assert np.array_equal(a.nucleus_yx, b.nucleus_yx)
    assert np.array_equal(a.foci_count, b.foci_count)
