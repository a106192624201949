"""The apply_stainer component body, called directly: both one-epoch stainers on the phantom nuclei."""

from pathlib import Path

import pandas as pd
import pytest
from kfp import dsl

from stainworth.components.apply_stainer import apply_stainer
from stainworth.contracts.fields import DatasetManifest
from stainworth.contracts.manifest import read_manifest

from .conftest import ARCHITECTURES, STAIN_CONFIG


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_the_component_stains_every_split_and_scores_the_test_split(applied_stainers, phantom_datasets,
                                                                    architecture):
    virtual = applied_stainers[architecture]
    folder = Path(virtual.path)
    source = read_manifest(DatasetManifest, phantom_datasets / "classification")
    quality = pd.read_csv(folder / "quality_test.csv")
    assert (folder / "dataset.zarr").is_dir() and len(quality) == source.splits["test"]
    assert {"ssim", "psnr", "pearson", "mse", "nrmse"} <= set(quality.columns)
    assert virtual.metadata["counts"] == read_manifest(DatasetManifest, folder).counts


def test_a_missing_dataset_ends_with_one_line(trained_stainers, tmp_path, capsys):
    with pytest.raises(SystemExit) as ended:
        apply_stainer.python_func(config=STAIN_CONFIG, kind="classification", stainer=trained_stainers["pix2pixhd"],
                                  datasets=dsl.Dataset(name="datasets", uri=str(tmp_path / "nothing")),
                                  virtual=dsl.Dataset(name="virtual", uri=str(tmp_path / "out")))
    error = capsys.readouterr().err.strip()
    assert ended.value.code == 2 and error.startswith("stainworth-error:") and "\n" not in error
    assert "nothing" in error and not (tmp_path / "out" / "manifest.json").exists()
