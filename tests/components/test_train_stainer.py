"""The train_stainer component body, called directly: one epoch of each architecture on the phantom nuclei."""

import json
from pathlib import Path

import pytest
from kfp import dsl

from stainworth.components.train_stainer import train_stainer
from stainworth.contracts.manifest import read_manifest
from stainworth.contracts.stainer import StainerManifest

from .conftest import ARCHITECTURES, STAIN_CONFIG


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_the_component_writes_the_stainer_and_its_manifest(trained_stainers, architecture):
    stainer = trained_stainers[architecture]
    folder = Path(stainer.path)
    assert (folder / "stainer" / "model.safetensors").is_file()
    assert json.loads((folder / "stainer" / "stainer.json").read_text())["config"]["architecture"] == architecture
    manifest = read_manifest(StainerManifest, folder)
    assert stainer.metadata["stage"] == manifest.stage == "train_stainer"
    assert stainer.metadata["content_hash"] == manifest.content_hash
    assert manifest.architecture == architecture and manifest.dataset_kind == "classification"


def test_a_dataset_of_the_other_kind_ends_with_one_line(phantom_datasets, tmp_path, capsys):
    with pytest.raises(SystemExit) as ended:
        train_stainer.python_func(config=STAIN_CONFIG, kind="segmentation", architecture="efficientunet",
                                  store_uri=f"file://{tmp_path}/store",
                                  datasets=dsl.Dataset(name="datasets", uri=str(phantom_datasets / "classification")),
                                  stainer=dsl.Model(name="stainer", uri=str(tmp_path / "out")))
    error = capsys.readouterr().err.strip()
    assert ended.value.code == 2 and "a classification dataset; expected segmentation" in error
    assert "\n" not in error
    assert not (tmp_path / "out" / "manifest.json").exists()
