"""The ingest stage publishes a lab's acquisition (the real ISL field) to the store."""

import json
from pathlib import Path

import pytest

from stainworth.contracts.prepare import SourceConfig
from stainworth.errors import ConfigError
from stainworth.io.acquisition import read_acquisition
from stainworth.stages.ingest import ingest_to_store
from stainworth.store import open_store

ISL = Path(__file__).resolve().parents[1] / "data" / "isl_rat_neurons_a4" / "ingest.yaml"


def test_isl_field_published(tmp_path):
    manifest = ingest_to_store(SourceConfig(ingest_spec=str(ISL)), tmp_path / "out", store_uri=f"file://{tmp_path}/s")
    assert manifest.counts == {"acquisitions": 1, "tiles": 1}
    store = open_store(f"file://{tmp_path}/s")
    folder = store.fetch_dir("acquisitions/isl-rat-neurons-a4", tmp_path / "acq")
    acquisition = read_acquisition(folder)
    assert acquisition.label_free_modality == "phase_contrast" and acquisition.condition is None
    assert json.loads((tmp_path / "out" / "acquisition.json").read_text())["acquisition_id"] == "isl-rat-neurons-a4"


def test_without_spec_one_line(tmp_path):
    with pytest.raises(ConfigError, match="ingest_spec is not set"):
        ingest_to_store(SourceConfig(), tmp_path / "out", store_uri=f"file://{tmp_path}/s")


def test_acquire_without_spec_or_phantom_uses_the_store(tmp_path):
    from stainworth.contracts.simulate import SimulateConfig
    from stainworth.stages.ingest import acquire

    manifest = acquire(SourceConfig(phantom=False), SimulateConfig(), tmp_path / "out", store_uri=f"file://{tmp_path}/s")
    assert manifest.counts == {"acquisitions": 0}
    assert json.loads((tmp_path / "out" / "acquisitions.json").read_text()) == []


def test_acquire_with_a_spec_ingests_it(tmp_path):
    from stainworth.contracts.simulate import SimulateConfig
    from stainworth.stages.ingest import acquire

    acquire(SourceConfig(ingest_spec=str(ISL)), SimulateConfig(), tmp_path / "out", store_uri=f"file://{tmp_path}/s")
    assert json.loads((tmp_path / "out" / "acquisitions.json").read_text()) == ["isl-rat-neurons-a4"]
