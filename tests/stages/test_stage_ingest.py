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


def test_plate_positions_published(tmp_path, hcs_plate_writer, hcs_phantom_position):
    import yaml

    from stainworth.contracts.simulate import SimulateConfig
    from stainworth.stages.ingest import acquire

    wells = {"A/1": [hcs_phantom_position(128, condition="control", seed=1)[0]],
             "B/2": [hcs_phantom_position(128, condition="treated", seed=2)[0]] * 2}
    hcs_plate_writer(tmp_path / "plate.zarr", wells, labels=["Phase3D", "BF", "Lamin A/C", "H3K27me3"])
    spec = tmp_path / "ingest.yaml"
    spec.write_text(yaml.safe_dump({
        "acquisition_id": "p", "plate": {"path": "plate.zarr", "conditions": {"A/1": "control", "B/2": "treated"}},
        "label_free": {"modality": "qpi", "channel": "Phase3D"},
        "fluorescence": [{"name": "lamin_a_c", "marker": "Lamin A/C", "channel": "Lamin A/C"}]}))
    manifest = acquire(SourceConfig(ingest_spec=str(spec)), SimulateConfig(), tmp_path / "out",
                       store_uri=f"file://{tmp_path}/s")
    assert manifest.counts == {"acquisitions": 3, "tiles": 3}
    assert json.loads((tmp_path / "out" / "acquisitions.json").read_text()) == ["p-A1-0", "p-B2-0", "p-B2-1"]
    store = open_store(f"file://{tmp_path}/s")
    acquisition = read_acquisition(store.fetch_dir("acquisitions/p-B2-1", tmp_path / "acq"))
    assert acquisition.condition == "treated" and acquisition.pixel_size_um == 0.32
