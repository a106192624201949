"""The model registry: versions numbered in order, never overwritten, reused for the same data; promotion rule."""

import math

import pytest

from stainworth.contracts.manifest import write_manifest
from stainworth.contracts.retrain import RetrainConfig
from stainworth.contracts.stainer import StainerManifest
from stainworth.retrain.registry import (
    TRAINING_MANIFEST,
    is_not_worse,
    list_versions,
    model_folder,
    promote,
    publish_version,
    read_current,
)

FOLDER = model_folder(RetrainConfig(), "segmentation", "efficientunet")


def trained_output(root, weights=b"weights"):
    root.mkdir(parents=True)
    (root / "stainer").mkdir()
    (root / "stainer" / "generator.safetensors").write_bytes(weights)
    write_manifest(StainerManifest(stage="train_stainer", config={}, config_hash="c" * 64,
                                   input_hashes={"segmentation": "d" * 64}, paths={"stainer": ["stainer"]},
                                   architecture="efficientunet", dataset_kind="segmentation"), root)
    return root


def test_versions_count_up_and_the_same_data_reuses_its_version(store, tmp_path):
    assert FOLDER == "models/segmentation/efficientunet"
    first, added = publish_version(store, FOLDER, trained_output(tmp_path / "a"), data_key="k1", holdout={"ssim": 0.5})
    assert (first.version, added) == (1, True)
    second, added = publish_version(store, FOLDER, trained_output(tmp_path / "b", b"other"), data_key="k2",
                                    holdout={"ssim": 0.6})
    assert (second.version, added) == (2, True)
    again, added = publish_version(store, FOLDER, trained_output(tmp_path / "c", b"third"), data_key="k1",
                                   holdout={"ssim": 0.7})
    assert (again.version, added) == (1, False) and again.holdout == {"ssim": 0.5}
    assert [v.version for v in list_versions(store, FOLDER)] == [1, 2]
    assert store.get_bytes(f"{FOLDER}/v2/stainer/generator.safetensors") == b"other"
    assert store.exists(f"{FOLDER}/v1/{TRAINING_MANIFEST}")


def test_promotion_writes_current(store, tmp_path):
    assert read_current(store, FOLDER) is None
    version, _ = publish_version(store, FOLDER, trained_output(tmp_path / "a"), data_key="k1", holdout={"ssim": 0.5})
    current = promote(store, FOLDER, version, {"ssim": 0.5})
    assert read_current(store, FOLDER) == current and current.key == f"{FOLDER}/v1"


@pytest.mark.parametrize(("new", "current", "tolerance", "expected"), [
    ({"ssim": 0.5}, None, 0.0, True),
    ({"ssim": 0.5}, {"ssim": 0.5}, 0.0, True),
    ({"ssim": 0.49}, {"ssim": 0.5}, 0.0, False),
    ({"ssim": 0.49}, {"ssim": 0.5}, 0.02, True),
    ({"ssim": math.nan}, {"ssim": 0.5}, 0.0, False),
    ({"ssim": 0.1}, {"ssim": math.nan}, 0.0, True),
    ({"ssim": math.nan}, None, 0.0, False),
])
def test_not_worse(new, current, tolerance, expected):
    assert is_not_worse(new, current, metric="ssim", tolerance=tolerance) is expected
