"""Training both stainers on a small dataset, the stainer folder, and loading it back."""

import json
from dataclasses import replace

import numpy as np
import pytest
from scipy import ndimage

from stainworth.contracts.stainer import StainerTrainConfig
from stainworth.datasets.storage import write_dataset
from stainworth.errors import InputDataError
from stainworth.nets.padding import EdgePad
from stainworth.stainers.artifact import DESCRIPTION, FORMAT, WEIGHTS, ZERO_PADDED_FORMAT, load_stainer
from stainworth.stainers.train import train_stainer


def split(n, seed, size=32):
    """Label-free blobs; fluorescence = a brighter, blurred version on another intensity scale."""
    rng = np.random.default_rng(seed)
    label_free = ndimage.gaussian_filter(rng.random((n, size, size)), (0, 2, 2)).astype(np.float32)
    fluorescence = (500.0 + 3000.0 * ndimage.gaussian_filter(label_free, (0, 1, 1)) ** 2).astype(np.float32)
    return {"label_free": label_free, "fluorescence": fluorescence, "mask": np.zeros((n, size, size), np.uint8),
            "positions": np.zeros((n, 2), np.int64), "source": np.zeros(n, np.uint16)}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("data") / "set", {"train": split(16, 0), "val": split(4, 1),
                         "test": split(4, 2)}, None, None, kind="segmentation", sources=["a"], chunk=8)


CONFIGS = {
    "efficientunet": {"architecture": "efficientunet", "batch_size": 4, "max_epochs": 2},
    "pix2pixhd": {"architecture": "pix2pixhd", "batch_size": 4, "max_epochs": 2,
                  "pix2pixhd": {"ngf": 8, "n_blocks": 1, "n_blocks_local": 1, "ndf": 8, "num_d": 2,
                                "n_downsampling": 2}},
}


@pytest.mark.parametrize("architecture", list(CONFIGS))
def test_training_writes_a_stainer_that_loads_and_predicts_on_the_fluorescence_scale(architecture, dataset,
                                                                                       tmp_path):
    config = StainerTrainConfig.model_validate(CONFIGS[architecture])
    lines = []
    summary = train_stainer(config, dataset, tmp_path / "work", tmp_path / "stainer", dataset_hash="abc",
                            log=lines.append)
    assert summary.fit.epochs_run == 2 and summary.parameters > 0
    assert (tmp_path / "stainer" / WEIGHTS).is_file()
    info = json.loads((tmp_path / "stainer" / DESCRIPTION).read_text())["info"]
    assert info["encoder_weights"] == "none (trained from scratch)" and info["dataset"] == "abc"
    assert len(info["history"]) == 2 and any(line.startswith("train_stainer epoch 2/2") for line in lines)
    stainer = load_stainer(tmp_path / "stainer")
    test = dataset.arrays("test")
    virtual = stainer.predict(np.asarray(test["label_free"]))
    assert virtual.shape == (4, 32, 32) and np.all(np.isfinite(virtual))
    assert np.allclose(stainer.predict(np.asarray(test["label_free"][0])), virtual[0], atol=1e-4)
    # outputs come back on the fluorescence scale (hundreds to thousands), not the normalised one
    assert 100.0 < float(np.median(virtual)) < 5000.0


def test_alpha_grid_keeps_the_alpha_with_the_best_validation_ssim(dataset, tmp_path):
    config = StainerTrainConfig.model_validate({"batch_size": 8, "max_epochs": 1,
                                                "efficientunet": {"alpha_grid": [0.1, 0.9]}})
    summary = train_stainer(config, dataset, tmp_path / "work", tmp_path / "stainer", log=lambda line: None)
    assert set(summary.alpha_search) == {"0.1", "0.9"}
    assert summary.alpha == max((0.1, 0.9), key=lambda a: summary.alpha_search[f"{a:g}"])
    assert load_stainer(tmp_path / "stainer").config.efficientunet.alpha == summary.alpha


def test_a_dataset_without_validation_items_is_refused(tmp_path):
    empty_val = write_dataset(tmp_path / "set", {"train": split(4, 0), "val": split(0, 1)}, None, None,
                              kind="segmentation", sources=["a"])
    with pytest.raises(InputDataError, match="split 'val' has 0 items"):
        train_stainer(StainerTrainConfig(), empty_val, tmp_path / "work", tmp_path / "out")


def test_a_folder_that_is_not_a_stainer_is_refused(tmp_path):
    with pytest.raises(InputDataError, match="no stainer.json; expected a stainer folder"):
        load_stainer(tmp_path)


@pytest.mark.parametrize("description, weights, expected", [
    ("{not json", None, r"stainer.json: not JSON .*; expected a stainer description"),
    ('["a list"]', None, r"stainer.json: format 'list'; expected"),
    (None, b"not a checkpoint", r"model.safetensors: does not fit a pix2pixhd generator \(Error while deserializing"),
])
def test_a_damaged_stainer_folder_is_refused_in_one_line(dataset, tmp_path, description, weights, expected):
    config = StainerTrainConfig.model_validate(CONFIGS["pix2pixhd"] | {"max_epochs": 1})
    train_stainer(config, dataset, tmp_path / "work", tmp_path / "stainer", log=lambda line: None)
    if description is not None:
        (tmp_path / "stainer" / DESCRIPTION).write_text(description)
    if weights is not None:
        (tmp_path / "stainer" / WEIGHTS).write_bytes(weights)
    with pytest.raises(InputDataError, match=expected) as raised:
        load_stainer(tmp_path / "stainer")
    assert "\n" not in str(raised.value)


def test_a_stainer_description_with_invalid_settings_names_the_field(dataset, tmp_path):
    config = StainerTrainConfig.model_validate(CONFIGS["pix2pixhd"] | {"max_epochs": 1})
    train_stainer(config, dataset, tmp_path / "work", tmp_path / "stainer", log=lambda line: None)
    description = json.loads((tmp_path / "stainer" / DESCRIPTION).read_text())
    description["config"]["batch_size"] = "many"
    (tmp_path / "stainer" / DESCRIPTION).write_text(json.dumps(description))
    with pytest.raises(InputDataError, match=r"stainer.json: config.batch_size: .*expected the stainer settings"):
        load_stainer(tmp_path / "stainer")


def test_a_stainer_written_before_the_padding_setting_loads_with_zero_padding(dataset, tmp_path):
    config = StainerTrainConfig.model_validate(CONFIGS["efficientunet"] | {"max_epochs": 1})
    train_stainer(config, dataset, tmp_path / "work", tmp_path / "stainer", log=lambda line: None)
    assert load_stainer(tmp_path / "stainer").config.efficientunet.padding == "edge"
    description = json.loads((tmp_path / "stainer" / DESCRIPTION).read_text())
    assert description["format"] == FORMAT
    del description["config"]["efficientunet"]["padding"]
    (tmp_path / "stainer" / DESCRIPTION).write_text(json.dumps(description | {"format": ZERO_PADDED_FORMAT}))
    old = load_stainer(tmp_path / "stainer")
    assert old.config.efficientunet.padding == "zeros"
    assert not any(isinstance(m, EdgePad) for m in old.generator.modules())
    (tmp_path / "stainer" / DESCRIPTION).write_text(json.dumps(description | {"format": "stainworth-stainer/9"}))
    with pytest.raises(InputDataError, match="format 'stainworth-stainer/9'; expected 'stainworth-stainer/2' or "):
        load_stainer(tmp_path / "stainer")


def test_a_stainer_averages_over_the_symmetries_it_was_trained_with(dataset, tmp_path):
    from stainworth.stainers.symmetry import symmetry_average

    config = StainerTrainConfig.model_validate(CONFIGS["efficientunet"] | {"max_epochs": 1})
    train_stainer(config, dataset, tmp_path / "work", tmp_path / "stainer", log=lambda line: None)
    stainer = load_stainer(tmp_path / "stainer")
    averaging = stainer.averaging_its_training_symmetries()
    assert (stainer.average, averaging.average) == ("none", "dihedral")
    images = dataset.arrays("test")["label_free"][:]
    plain, averaged = stainer.predict(images), averaging.predict(images)
    expected = stainer.output_normaliser.invert(symmetry_average(
        stainer.predict_normalised, stainer.input_normaliser.apply(images)[:, None], "dihedral")[:, 0])
    np.testing.assert_allclose(averaged, expected, rtol=1e-5, atol=1e-3)
    assert not np.allclose(averaged, plain, rtol=1e-3)
    untransformed = replace(stainer, config=stainer.config.model_copy(update={"augment": "none"}))
    np.testing.assert_array_equal(untransformed.averaging_its_training_symmetries().predict(images), plain)
