"""External stainers in the stain configuration, and the modalities a profile's sweeps compare."""

import pytest
from pydantic import ValidationError

from stainworth.contracts.stainer import ExternalStainerConfig, StainConfig
from stainworth.contracts.task import TaskUnit, modality_rank, sweep_modalities
from stainworth.errors import ConfigError
from stainworth.profiles import load_profile


def test_an_external_stainer_is_a_model_or_images_and_becomes_a_modality():
    model = ExternalStainerConfig(name="mylab", model="s3://models/stainer.onnx")
    assert (model.modality, model.model_format, model.input_normalisation.kind) == ("virtual_mylab", "onnx",
                                                                                   "percentile")
    assert ExternalStainerConfig(name="ts", model="net.pt").model_format == "torchscript"
    assert ExternalStainerConfig(name="cytoland", images="/data/virtual").model_format is None


@pytest.mark.parametrize(("entry", "says"), [
    ({"name": "both", "images": "a", "model": "b.onnx"}, "exactly one of images"),
    ({"name": "neither"}, "exactly one of images"),
    ({"name": "effunet", "model": "b.onnx"}, "clashes with a built-in stainer"),
    ({"name": "pix2pixhd", "images": "a"}, "clashes with a built-in stainer"),
    ({"name": "keras", "model": "b.h5"}, "no known suffix"),
    ({"name": "Upper", "images": "a"}, "should match pattern"),
    ({"name": "n", "model": "b.onnx", "input_normalisation": {"low": 99, "high": 1}}, "must be below high"),
])
def test_a_wrong_external_stainer_is_refused_naming_what_is_wrong(entry, says):
    with pytest.raises(ValidationError, match=says):
        ExternalStainerConfig.model_validate(entry)


def test_stainer_names_must_differ_and_builtins_appear_once():
    with pytest.raises(ValidationError, match="given 2 times"):
        StainConfig(external=[{"name": "a", "images": "x"}, {"name": "a", "model": "y.onnx"}])
    with pytest.raises(ValidationError, match="at most once"):
        StainConfig(builtin=["pix2pixhd", "pix2pixhd"])
    assert StainConfig(builtin=[], external=[{"name": "a", "images": "x"}]).modalities == ["virtual_a"]


def test_a_profile_compares_the_images_of_its_stainers_by_default():
    profile = load_profile("smoke", ["stain.builtin=[pix2pixhd]",
                                     "stain.external=[{name: mylab, model: m.onnx}, {name: cyto, images: d}]"])
    expected = ["label_free", "virtual_pix2pixhd", "virtual_mylab", "virtual_cyto", "fluorescence"]
    assert profile.tasks.classification.modalities == expected == profile.tasks.segmentation.modalities
    assert sweep_modalities(["efficientunet", "pix2pixhd"], []) == list(load_profile("smoke").tasks.segmentation
                                                                         .modalities)
    assert sorted(reversed(expected), key=modality_rank) == ["label_free", "virtual_pix2pixhd", "virtual_cyto",
                                                             "virtual_mylab", "fluorescence"]


def test_an_explicit_modality_must_be_made_by_a_stainer_of_the_profile():
    with pytest.raises(ConfigError) as error:
        load_profile("smoke", ["stain.builtin=[]", "tasks.classification.modalities=[label_free, virtual_effunet]"])
    message = str(error.value)
    assert "tasks.classification.modalities[1]" in message and "virtual_effunet" in message and "\n" not in message
    profile = load_profile("smoke", ["stain.external=[{name: mine, images: d}]",
                                     "tasks.classification.modalities=[label_free, virtual_mine]"])
    assert profile.tasks.classification.modalities == ["label_free", "virtual_mine"]


def test_a_unit_takes_any_stainer_modality_but_not_a_malformed_one():
    unit = TaskUnit(task="classification", architecture="cnn1", modality="virtual_mylab")
    assert unit.name == "classification-cnn1-virtual_mylab-all-s0-r0"
    with pytest.raises(ValidationError, match="should match pattern"):
        TaskUnit(task="classification", architecture="cnn1", modality="virtual_My Lab")
