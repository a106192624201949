"""merge_fields: branch outputs of one stage joined; the checks that refuse what cannot be joined."""

import os

import pytest

from stainworth.contracts.fields import FieldInfo, FieldsManifest
from stainworth.contracts.manifest import read_manifest, write_manifest
from stainworth.errors import InputDataError
from stainworth.fields import field_path
from stainworth.stages.merge import merge_fields, merge_prepared

HASH = "0" * 64


def branch(root, stage, fields, *, config_hash=HASH, input_hashes=None, metrics=None, counts=None):
    """A stage output with one small file per field."""
    infos = {}
    for field_id, value in fields.items():
        folder = field_path(root, field_id, "data.zarr")
        folder.mkdir(parents=True)
        (folder / "values").write_text(f"{field_id}:{value}")
        infos[field_id] = FieldInfo(acquisition_id=field_id, condition="control", pixel_size_um=0.32,
                                    label_free_modality="qpi", fluorescence_channels=["lamin_a_c"],
                                    metrics={"dice": value}, lineage=HASH, shape_yx=(8, 8))
    manifest = FieldsManifest(stage=stage, config={}, config_hash=config_hash, input_hashes=input_hashes or {},
                              counts=counts or {"fields": len(fields)},
                              metrics={"mean_dice": sum(fields.values()) / len(fields)} if metrics is None else metrics,
                              fields=infos)
    return write_manifest(manifest, root)


def test_fields_counts_and_means_are_joined_and_files_linked(tmp_path):
    branch(tmp_path / "a", "label", {"f1": 0.9, "f3": 0.6}, counts={"fields": 2, "nuclei": 30})
    branch(tmp_path / "b", "label", {"f2": 0.3}, counts={"fields": 1, "nuclei": 12})
    joined = merge_fields([tmp_path / "a", tmp_path / "b"], tmp_path / "out")
    assert list(joined.fields) == ["f1", "f2", "f3"]
    assert joined.counts == {"fields": 3, "nuclei": 42} and joined.metrics == {"mean_dice": pytest.approx(0.6)}
    assert read_manifest(FieldsManifest, tmp_path / "out").content_hash == joined.content_hash
    copied = field_path(tmp_path / "out", "f2", "data.zarr") / "values"
    assert copied.read_text() == "f2:0.3" and os.stat(copied).st_ino == os.stat(
        field_path(tmp_path / "b", "f2", "data.zarr") / "values").st_ino


def test_the_upstream_hash_is_the_merged_upstreams(tmp_path):
    for name, fields in (("a", {"f1": 1.0}), ("b", {"f2": 1.0})):
        branch(tmp_path / "stitch" / name, "stitch", fields, input_hashes={f"{next(iter(fields))}": "1" * 64})
        branch(tmp_path / "register" / name, "register", fields, input_hashes={"stitch": name * 64})
        branch(tmp_path / "label" / name, "label", fields, input_hashes={"register": name * 64})
    parts = {stage: [tmp_path / stage / name for name in "ab"] for stage in ("stitch", "register", "label")}
    label = merge_prepared(parts["stitch"], parts["register"], parts["label"], *(tmp_path / f"out-{stage}" for stage in
                                                                                   ("stitch", "register", "label")))
    stitch = read_manifest(FieldsManifest, tmp_path / "out-stitch")
    register = read_manifest(FieldsManifest, tmp_path / "out-register")
    assert stitch.input_hashes == {"f1": "1" * 64, "f2": "1" * 64}
    assert register.input_hashes == {"stitch": stitch.content_hash}
    assert label.input_hashes == {"register": register.content_hash}


def test_what_cannot_be_joined_is_refused_in_one_line(tmp_path):
    with pytest.raises(InputDataError, match="no branch outputs"):
        merge_fields([], tmp_path / "out")
    branch(tmp_path / "a", "label", {"f1": 0.9})
    branch(tmp_path / "b", "register", {"f2": 0.9})
    with pytest.raises(InputDataError, match=r"a 'register' output .* expected 'label'"):
        merge_fields([tmp_path / "a", tmp_path / "b"], tmp_path / "out1")
    branch(tmp_path / "c", "label", {"f2": 0.9}, config_hash="1" * 64)
    with pytest.raises(InputDataError, match="with settings 111111111111; expected 'label' with settings 000000000000"):
        merge_fields([tmp_path / "a", tmp_path / "c"], tmp_path / "out2")
    branch(tmp_path / "d", "label", {"f1": 0.5})
    with pytest.raises(InputDataError, match="field 'f1' is in another branch too"):
        merge_fields([tmp_path / "a", tmp_path / "d"], tmp_path / "out3")
    branch(tmp_path / "e", "label", {"f5": 0.5}, metrics={"seconds": 3.0})
    with pytest.raises(InputDataError, match=r"manifest metrics \['seconds'\] cannot be merged"):
        merge_fields([tmp_path / "a", tmp_path / "e"], tmp_path / "out4")
    branch(tmp_path / "f", "label", {"f6": 0.5}, input_hashes={"register": "2" * 64})
    branch(tmp_path / "g", "label", {"f7": 0.5}, input_hashes={"register": "3" * 64})
    with pytest.raises(InputDataError, match="input 'register' has hash 333333333333"):
        merge_fields([tmp_path / "f", tmp_path / "g"], tmp_path / "out5")
    assert not any((tmp_path / f"out{k}").exists() for k in range(1, 6))
