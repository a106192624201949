import pytest

from stainworth.errors import ConfigError
from stainworth.profiles import apply_overrides, available_profiles, load_profile, save_profile


def test_shipped_profiles_validate():
    assert available_profiles() == ["mini", "paper", "smoke"]
    sizes = {name: load_profile(name).simulate.phantom.acquisition.tile_size_px
             for name in available_profiles()}
    assert sizes["smoke"] < sizes["mini"] < sizes["paper"]


def test_override_sets_nested_values_with_yaml_types():
    profile = load_profile("smoke", ["simulate.seed=7", "simulate.conditions=[treated]",
                                     "cluster.gpu_node_selector={pool: a100}"])
    assert profile.simulate.seed == 7
    assert profile.simulate.conditions == ["treated"]
    assert profile.cluster.gpu_node_selector == {"pool": "a100"}


def test_phantom_modality_effects_are_study_axes():
    profile = load_profile("smoke", ["simulate.phantom.treatment.h3k27me3_loss=0.4",
                                     "simulate.phantom.fluorescence.h3k27me3_texture_coupling=0.3",
                                     "simulate.phantom.treatment.dry_mass_dilution=0"])
    phantom = profile.simulate.phantom
    assert phantom.treatment.h3k27me3_loss == 0.4
    assert phantom.fluorescence.h3k27me3_texture_coupling == 0.3
    assert phantom.treatment.dry_mass_dilution == 0.0


def test_one_dataset_s_stainers_can_differ_from_the_shared_training_settings():
    profile = load_profile("smoke", ["stain.training.efficientunet.learning_rate=0.001",
                                     "stain.training_by_dataset={segmentation: {efficientunet: {norm: group}}}"])
    segmentation, classification = (profile.stain.training_for(kind) for kind in ("segmentation", "classification"))
    assert segmentation.efficientunet.norm == "group" and classification.efficientunet.norm == "batch"
    assert segmentation.efficientunet.learning_rate == classification.efficientunet.learning_rate == 0.001
    assert segmentation.pix2pixhd == classification.pix2pixhd == profile.stain.training.pix2pixhd


def test_override_does_not_mutate_input():
    data = {"a": {"b": 1}}
    assert apply_overrides(data, ["a.b=2"]) == {"a": {"b": 2}}
    assert data == {"a": {"b": 1}}


@pytest.mark.parametrize(
    ("overrides", "pattern"),
    [
        (["simulate.seed=-1"],
         r"field 'simulate.seed': Input should be greater than or equal to 0; found -1"),
        (["simulate.sed=1"], r"unknown field 'simulate.sed'"),
        (["simulate.phantom.acquisition.tile_size_px=16"],
         r"field 'simulate.phantom.acquisition.tile_size_px'"),
        (["simulate.phantom.treatment.h3k27me3_loss=2"],
         r"field 'simulate.phantom.treatment.h3k27me3_loss': Input should be less than or equal to 0\.9"),
        (["cluster.cpu_task.memory=lots"], r"field 'cluster.cpu_task.memory'.*not a Kubernetes quantity"),
        (["cluster.store_uri=file:///tmp/x"], r"field 'cluster.store_uri'.*must be s3://"),
        (["simulate.conditions=[control, control]"], r"field 'simulate.conditions'.*distinct"),
        (["nokey"], r"override 'nokey': expected key=value"),
        (["stain.training_by_dataset={segmentation: {efficientunet: {norm: layer}}}"],
         r"training_by_dataset\.segmentation\.efficientunet\.norm: Input should be 'batch' or 'group'"),
        (["simulate.seed.deeper=1"], r"override 'simulate.seed.deeper=1': 'simulate.seed' is a value"),
    ],
)
def test_bad_values_one_line(overrides, pattern):
    with pytest.raises(ConfigError, match=pattern) as caught:
        load_profile("smoke", overrides)
    assert "\n" not in str(caught.value)


def test_profile_file_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"profile file .*absent.yaml: not found"):
        load_profile(str(tmp_path / "absent.yaml"))
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed")
    with pytest.raises(ConfigError, match=r"broken.yaml: not valid YAML"):
        load_profile(str(broken))
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match=r"list.yaml: expected a mapping at the top, found list"):
        load_profile(str(listing))
    with pytest.raises(ConfigError, match=r"profile 'huge': unknown; expected one of"):
        load_profile("huge")


def test_save_and_reload_round_trip(tmp_path):
    profile = load_profile("mini", ["simulate.seed=3"])
    again = load_profile(str(save_profile(profile, tmp_path / "p.yaml")))
    assert again == profile
