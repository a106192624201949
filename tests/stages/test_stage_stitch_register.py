"""stitch and register stages on smoke phantom acquisitions from the store."""

import numpy as np
import pytest

from stainworth.contracts.fields import FieldsManifest
from stainworth.contracts.manifest import read_manifest
from stainworth.errors import InputDataError
from stainworth.profiles import load_profile
from stainworth.stages.fields import MOSAIC, REGISTERED, TRUTH, open_field_array
from stainworth.stages.ingest import ingest_if_requested
from stainworth.stages.register import register_fields
from stainworth.stages.simulate import simulate_acquisitions
from stainworth.stages.stitch import stitch_fields


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("prepare")
    profile = load_profile("smoke")
    store = f"file://{root}/store"
    simulate_acquisitions(profile.simulate, root / "simulated", store_uri=store)
    ingest_if_requested(profile.prepare.source, root / "ingested", store_uri=store)
    stitched = stitch_fields(profile.prepare, root / "ingested", root / "stitched", store_uri=store)
    registered = register_fields(profile.prepare.registration, root / "stitched", root / "registered")
    return root, profile, stitched, registered


def test_stitch_recovers_positions_and_writes_mosaics(prepared):
    root, _, stitched, _ = prepared
    assert stitched == read_manifest(FieldsManifest, root / "stitched")
    assert len(stitched.fields) == 2 and stitched.metrics["mean_position_error_px_max"] <= 1.0
    for field_id, field in stitched.fields.items():
        label_free = open_field_array(root / "stitched", field_id, MOSAIC, "label_free")
        fluorescence = open_field_array(root / "stitched", field_id, MOSAIC, "fluorescence")
        truth = open_field_array(root / "stitched", field_id, TRUTH, "nuclei")
        assert label_free.shape == truth.shape == tuple(field.shape_yx)
        assert fluorescence.shape == (2, *field.shape_yx)
        assert field.fluorescence_channels == ["lamin_a_c", "h3k27me3"] and field.has_truth


def test_register_aligns_fluorescence_with_the_truth(prepared):
    root, _, _, registered = prepared
    assert registered.metrics["mean_registration_error_px_rms"] < 2.0
    for field_id, field in registered.fields.items():
        assert field.metrics["inliers"] >= 4 and field.metrics["coverage"] > 0.9
        moved = open_field_array(root / "registered", field_id, REGISTERED, "fluorescence")
        truth = np.asarray(open_field_array(root / "stitched", field_id, TRUTH, "nuclei")[:])
        lamin = np.asarray(moved[0])
        assert lamin[truth > 0].mean() > 1.5 * lamin[truth == 0].mean()


def test_no_acquisitions_in_the_store(prepared, tmp_path):
    root, profile, _, _ = prepared
    with pytest.raises(InputDataError, match=r"no complete acquisitions under file://.*/empty/acquisitions"):
        stitch_fields(profile.prepare, root / "ingested", tmp_path / "out", store_uri=f"file://{tmp_path}/empty")
    listed = profile.prepare.model_copy(deep=True)
    listed.source.acquisition_ids = ["nope"]
    with pytest.raises(InputDataError, match=r"acquisitions \['nope'\] are not complete"):
        stitch_fields(listed, root / "ingested", tmp_path / "out", store_uri=f"file://{root}/store")


def test_unknown_moving_channel(prepared, tmp_path):
    root, profile, _, _ = prepared
    config = profile.prepare.registration.model_copy(update={"moving_channel": "dapi"})
    with pytest.raises(InputDataError, match=r"moving_channel 'dapi' is not among .*\['lamin_a_c', 'h3k27me3'\]"):
        register_fields(config, root / "stitched", tmp_path / "out")
