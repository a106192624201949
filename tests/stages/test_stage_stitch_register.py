"""stitch and register stages on smoke phantom acquisitions from the store."""

import shutil

import numpy as np
import pytest

from stainworth.contracts.fields import FieldsManifest
from stainworth.contracts.manifest import read_manifest
from stainworth.errors import InputDataError
from stainworth.fields import MOSAIC, REGISTERED, TRUTH, open_field_array
from stainworth.profiles import load_profile
from stainworth.stages.ingest import acquire
from stainworth.stages.register import register_fields
from stainworth.stages.stitch import stitch_fields


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("prepare")
    profile = load_profile("smoke")
    store = f"file://{root}/store"
    acquire(profile.prepare.source, profile.simulate, root / "ingested", store_uri=store)
    stitched = stitch_fields(profile.prepare, root / "ingested", root / "stitched", store_uri=store)
    registered = register_fields(profile.prepare.registration, root / "stitched", root / "registered",
                                 store_uri=store)
    yield root, profile, stitched, registered
    shutil.rmtree(root, ignore_errors=True)


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
    nothing = tmp_path / "nothing"
    acquire(profile.prepare.source.model_copy(update={"phantom": False}), profile.simulate, nothing,
            store_uri=f"file://{tmp_path}/empty")
    with pytest.raises(InputDataError, match=r"no complete acquisitions under file://.*/empty/acquisitions"):
        stitch_fields(profile.prepare, nothing, tmp_path / "out", store_uri=f"file://{tmp_path}/empty")
    listed = profile.prepare.model_copy(deep=True)
    listed.source.acquisition_ids = ["nope"]
    with pytest.raises(InputDataError, match=r"acquisitions \['nope'\] are not complete"):
        stitch_fields(listed, nothing, tmp_path / "out", store_uri=f"file://{root}/store")


def test_unknown_moving_channel(prepared, tmp_path):
    root, profile, _, _ = prepared
    config = profile.prepare.registration.model_copy(update={"moving_channel": "dapi"})
    with pytest.raises(InputDataError, match=r"moving_channel 'dapi' is not among .*\['lamin_a_c', 'h3k27me3'\]"):
        register_fields(config, root / "stitched", tmp_path / "out")


@pytest.fixture(scope="module")
def labelled(prepared):
    from stainworth.stages.label import label_fields

    root, profile, _, _ = prepared
    return label_fields(profile.prepare.label, root / "stitched", root / "registered", root / "labelled",
                        store_uri=f"file://{root}/store")


def test_label_scores_against_truth(prepared, labelled):
    root, _, _, _ = prepared
    assert labelled.counts["nuclei"] > 20
    assert labelled.metrics["mean_dice"] > 0.7 and labelled.metrics["mean_ap50"] > 0.4
    for field_id in labelled.fields:
        labels = open_field_array(root / "labelled", field_id, "labels.zarr", "nuclei")
        assert labels.dtype == np.uint32


def test_a_field_larger_than_a_block_is_labelled_by_blocks_alike(prepared, labelled, tmp_path):
    from stainworth.stages.label import label_fields

    root, profile, _, _ = prepared
    config = profile.prepare.label.model_copy(update={"block_px": 256})
    blocks = label_fields(config, root / "stitched", root / "registered", tmp_path / "labelled")
    for field_id, field in blocks.fields.items():
        whole = labelled.fields[field_id].metrics
        assert whole["blocks"] == 1 and field.metrics["blocks"] > 4
        assert field.metrics["nuclei_larger_than_halo"] == 0
        assert abs(field.metrics["nuclei"] - whole["nuclei"]) <= 0.02 * whole["nuclei"]
        assert field.metrics["dice"] == pytest.approx(whole["dice"], abs=0.005)
        assert field.metrics["ap50"] == pytest.approx(whole["ap50"], abs=0.02)
    assert not list((tmp_path / "labelled").rglob("*.partial"))


def test_label_refuses_a_missing_cellpose_file(prepared, tmp_path):
    from stainworth.stages.label import label_fields

    root, profile, _, _ = prepared
    config = profile.prepare.label.model_copy(update={"method": "cellpose", "model_uri": str(tmp_path / "no.pt")})
    with pytest.raises(InputDataError, match=r"label.model_uri: .*no.pt does not exist"):
        label_fields(config, root / "stitched", root / "registered", tmp_path / "out")


def test_extract_from_real_stage_outputs(prepared, labelled, tmp_path):
    from stainworth.stages.extract import extract_datasets

    root, profile, _, _ = prepared
    manifest = extract_datasets(profile.prepare.extract, root / "stitched", root / "registered", root / "labelled",
                                tmp_path / "datasets", store_uri=f"file://{root}/store")
    assert manifest.counts["segmentation_train"] == profile.prepare.extract.segmentation.counts.train
    assert manifest.counts["classification_test"] == profile.prepare.extract.classification.counts.test


def test_a_second_prepare_of_the_same_acquisitions_reuses_every_field(prepared, labelled, tmp_path, capsys):
    from stainworth.contracts.manifest import directory_content_hash
    from stainworth.stages.label import label_fields

    root, profile, stitched, registered = prepared
    store = f"file://{root}/store"
    capsys.readouterr()
    again = stitch_fields(profile.prepare, root / "ingested", tmp_path / "stitched", store_uri=store)
    register_fields(profile.prepare.registration, tmp_path / "stitched", tmp_path / "registered", store_uri=store)
    label_fields(profile.prepare.label, tmp_path / "stitched", tmp_path / "registered", tmp_path / "labelled",
                 store_uri=store)
    out = capsys.readouterr().out
    assert out.count("earlier with the same settings") == 3 * len(stitched.fields), out
    assert again.fields == stitched.fields and all(field.lineage for field in again.fields.values())
    for stage in ("stitched", "registered", "labelled"):
        assert directory_content_hash(tmp_path / stage) == directory_content_hash(root / stage), stage


def test_other_settings_prepare_the_fields_anew(prepared, tmp_path, capsys):
    root, profile, stitched, _ = prepared
    store = f"file://{root}/store"
    capsys.readouterr()
    config = profile.prepare.registration.model_copy(update={"max_residual_px": 2.5})
    registered = register_fields(config, root / "stitched", tmp_path / "registered", store_uri=store)
    assert "reused" not in capsys.readouterr().out
    assert {f.lineage for f in registered.fields.values()}.isdisjoint(
        {f.lineage for f in read_manifest(FieldsManifest, root / "registered").fields.values()})


def test_a_branch_stitches_its_acquisitions_only(prepared, tmp_path):
    from stainworth.stages.stitch import acquisition_groups

    root, profile, stitched, _ = prepared
    store = f"file://{root}/store"
    ids = sorted(stitched.fields)
    config = profile.prepare.model_copy(update={"grouping": "slots"})
    assert acquisition_groups(config, root / "ingested", store_uri=store, slots=1) == [ids]
    assert acquisition_groups(profile.prepare, root / "ingested", store_uri=store, slots=1) == [[a] for a in ids]
    with pytest.raises(InputDataError, match="slots: found 0"):
        acquisition_groups(config, root / "ingested", store_uri=store, slots=0)
    one = stitch_fields(profile.prepare, root / "ingested", tmp_path / "one", store_uri=store, acquisition_ids=ids[1:])
    assert sorted(one.fields) == ids[1:] and one.fields[ids[1]] == stitched.fields[ids[1]]
    with pytest.raises(InputDataError, match=r"stitch: acquisitions \['nope'\] are not among those to prepare"):
        stitch_fields(profile.prepare, root / "ingested", tmp_path / "two", store_uri=store, acquisition_ids=["nope"])
