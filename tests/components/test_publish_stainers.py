"""The publish_stainers component body, called directly: both one-epoch stainers scored on the phantom holdout."""

import json
from pathlib import Path

import pytest
from kfp import dsl

from stainworth.components.publish_stainers import publish_stainers
from stainworth.retrain.registry import read_current
from stainworth.stages.retrain import MODELS
from stainworth.store import open_store

from .conftest import RETRAIN_CONFIG


def test_the_component_publishes_and_promotes_the_first_versions(retrain_outputs):
    store_uri, _, _, published = retrain_outputs
    assert json.loads((Path(published.path) / MODELS).read_text()) == {
        "classification/efficientunet": {"version": 1, "promoted": True, "added": True},
        "classification/pix2pixhd": {"version": 1, "promoted": True, "added": True}}
    for architecture in ("efficientunet", "pix2pixhd"):
        assert read_current(open_store(store_uri), f"models/classification/{architecture}").version == 1
        assert published.metadata["metrics"][f"{architecture}.promoted"] == 1


def test_stainers_in_each_others_slots_end_with_one_line(trained_stainers, phantom_datasets, tmp_path, capsys):
    with pytest.raises(SystemExit) as ended:
        publish_stainers.python_func(config=RETRAIN_CONFIG, kind="classification", store_uri=f"file://{tmp_path}/s",
                                     pix2pixhd=trained_stainers["efficientunet"],
                                     efficientunet=trained_stainers["pix2pixhd"],
                                     holdout=dsl.Dataset(name="holdout", uri=str(phantom_datasets)),
                                     published=dsl.Artifact(name="published", uri=str(tmp_path / "out")))
    error = capsys.readouterr().err.strip()
    assert ended.value.code == 2 and error.startswith("stainworth-error:") and "\n" not in error
    assert "the efficientunet stainer of the classification dataset; expected the pix2pixhd stainer" in error
    assert not (tmp_path / "out" / MODELS).exists() and not (tmp_path / "s").exists()
