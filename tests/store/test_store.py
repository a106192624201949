"""Behaviour every store shares, checked on a folder and on a live S3 server process."""

import json

import pytest

from stainworth.contracts.manifest import MANIFEST_NAME
from stainworth.errors import MissingKeyError, StoreError


def test_put_get_exists_delete(store):
    store.put_bytes("a/b/c.bin", b"\x00\x01payload")
    assert store.get_bytes("a/b/c.bin") == b"\x00\x01payload"
    assert store.exists("a/b/c.bin") and not store.exists("a/b/absent.bin")
    store.put_bytes("a/b/c.bin", b"second")
    assert store.get_bytes("a/b/c.bin") == b"second"
    store.delete("a/b/c.bin")
    store.delete("a/b/c.bin")
    assert not store.exists("a/b/c.bin")


def test_files_round_trip(store, tmp_path):
    source = tmp_path / "in.bin"
    source.write_bytes(bytes(range(256)) * 100)
    store.put_file("files/in.bin", source)
    store.get_file("files/in.bin", tmp_path / "out" / "copy.bin")
    assert (tmp_path / "out" / "copy.bin").read_bytes() == source.read_bytes()


def test_list_by_prefix_sorted(store):
    for key in ["acq/a10/x", "acq/a1/y", "acq/a1/sub/z", "other/w"]:
        store.put_bytes(key, b"1")
    assert store.list("acq/a1/") == ["acq/a1/sub/z", "acq/a1/y"]
    assert store.list("acq/") == ["acq/a1/sub/z", "acq/a1/y", "acq/a10/x"]
    assert store.list() == ["acq/a1/sub/z", "acq/a1/y", "acq/a10/x", "other/w"]
    assert store.list("nothing/") == []


def test_missing_key_one_line(store):
    with pytest.raises(MissingKeyError, match=r"no such key 'not/there.bin'"):
        store.get_bytes("not/there.bin")


@pytest.mark.parametrize("key", ["", "/abs/key", "a/../b", "dir/"])
def test_bad_keys_refused(store, key):
    with pytest.raises(StoreError, match=r"store key '.*': expected a relative path"):
        store.put_bytes(key, b"x")


def test_json_helpers(store):
    store.write_json("ledger.json", {"b": 1, "a": [1, 2]})
    assert store.read_json("ledger.json") == {"a": [1, 2], "b": 1}
    store.put_bytes("broken.json", b"{")
    with pytest.raises(StoreError, match="key 'broken.json' is not valid JSON"):
        store.read_json("broken.json")


def make_output(folder, manifest=True):
    (folder / "tiles").mkdir(parents=True)
    (folder / "tiles" / "t0.bin").write_bytes(b"tile0")
    (folder / "z_last_name.bin").write_bytes(b"z")
    if manifest:
        (folder / MANIFEST_NAME).write_text(json.dumps({"stage": "x"}))
    return folder


def test_publish_writes_manifest_last_and_fetch_round_trips(store, tmp_path):
    tmp_path = tmp_path / "work"
    written = store.publish_dir(make_output(tmp_path / "out"), "acquisitions/a1")
    assert written[-1] == f"acquisitions/a1/{MANIFEST_NAME}"
    assert sorted(written[:-1]) == ["acquisitions/a1/tiles/t0.bin", "acquisitions/a1/z_last_name.bin"]
    assert store.is_complete("acquisitions/a1")
    fetched = store.fetch_dir("acquisitions/a1", tmp_path / "fetched")
    assert (fetched / "tiles" / "t0.bin").read_bytes() == b"tile0"
    assert json.loads((fetched / MANIFEST_NAME).read_text()) == {"stage": "x"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fetched", "out"]


def test_incomplete_output_is_neither_published_nor_fetched(store, tmp_path):
    tmp_path = tmp_path / "work"
    with pytest.raises(StoreError, match=r"is incomplete: no manifest.json; refusing to publish"):
        store.publish_dir(make_output(tmp_path / "out", manifest=False), "acquisitions/a2")
    assert store.list("acquisitions/") == []
    store.put_bytes("acquisitions/a3/tiles/t0.bin", b"half")
    assert not store.is_complete("acquisitions/a3")
    with pytest.raises(MissingKeyError, match=r"'acquisitions/a3' is missing or incomplete"):
        store.fetch_dir("acquisitions/a3", tmp_path / "dest")
    assert not (tmp_path / "dest").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_fetch_refuses_a_non_empty_destination(store, tmp_path):
    store.publish_dir(make_output(tmp_path / "out"), "acquisitions/a4")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    with pytest.raises(StoreError, match="busy: destination exists and is not empty"):
        store.fetch_dir("acquisitions/a4", tmp_path / "busy")
    assert [p.name for p in (tmp_path / "busy").iterdir()] == ["keep.txt"]
