import json

import pytest

from stainworth.contracts.manifest import (
    MANIFEST_NAME,
    OutputManifest,
    directory_content_hash,
    read_manifest,
    write_manifest,
)
from stainworth.errors import InputDataError

HASH = "0" * 64


def make_manifest(**extra):
    return OutputManifest(stage="demo", config={"a": 1}, config_hash=HASH, **extra)


def test_written_last_with_content_hash_and_read_back(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.bin").write_bytes(b"123")
    manifest = write_manifest(make_manifest(paths={"data": ["data/x.bin"]}, counts={"n": 1}), tmp_path)
    assert manifest.content_hash == directory_content_hash(tmp_path)
    again = read_manifest(OutputManifest, tmp_path)
    assert again == manifest
    assert not list(tmp_path.glob("*.tmp"))


def test_content_hash_changes_with_bytes_and_names(tmp_path):
    (tmp_path / "x.bin").write_bytes(b"123")
    first = directory_content_hash(tmp_path)
    (tmp_path / "x.bin").write_bytes(b"124")
    second = directory_content_hash(tmp_path)
    (tmp_path / "x.bin").rename(tmp_path / "y.bin")
    assert len({first, second, directory_content_hash(tmp_path)}) == 3


def test_manifest_refuses_listing_a_missing_file(tmp_path):
    with pytest.raises(InputDataError, match="manifest lists 'data/absent.bin' but no such file"):
        write_manifest(make_manifest(paths={"data": ["data/absent.bin"]}), tmp_path)
    assert not (tmp_path / MANIFEST_NAME).exists()


@pytest.mark.parametrize("bad", ["/etc/passwd", "../outside.bin", "a/../../b"])
def test_paths_must_stay_inside(bad):
    with pytest.raises(ValueError, match="must be relative inside the output"):
        make_manifest(paths={"data": [bad]})


def test_missing_manifest_means_incomplete(tmp_path):
    with pytest.raises(InputDataError, match="no manifest; the output is missing or incomplete"):
        read_manifest(OutputManifest, tmp_path)


def test_unknown_schema_major_version_refused(tmp_path):
    data = make_manifest().model_dump(mode="json") | {"schema_version": "9.0"}
    (tmp_path / MANIFEST_NAME).write_text(json.dumps(data))
    with pytest.raises(InputDataError, match="schema_version"):
        read_manifest(OutputManifest, tmp_path)


def test_corrupt_manifest_one_line(tmp_path):
    (tmp_path / MANIFEST_NAME).write_text("{not json")
    with pytest.raises(InputDataError, match=r"manifest.json: not valid JSON"):
        read_manifest(OutputManifest, tmp_path)


def test_summary_is_small_and_json_ready():
    summary = make_manifest(counts={"tiles": 4}, metrics={"seconds": 1.5}).summary()
    assert summary["counts"] == {"tiles": 4} and summary["stage"] == "demo"
    assert "config" not in summary
    json.dumps(summary)
