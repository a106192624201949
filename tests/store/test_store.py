"""Behaviour every store shares, checked on a folder and on a live S3 server process."""

import json

import pytest

from stainworth.contracts.manifest import MANIFEST_NAME
from stainworth.errors import MissingKeyError, StoreError


def test_put_get_overwrite_exists_delete(store):
    store.put_bytes("a/b/c.bin", b"\x00\x01payload")
    assert store.get_bytes("a/b/c.bin") == b"\x00\x01payload"
    assert store.exists("a/b/c.bin")
    assert not store.exists("a/b/absent.bin")
    assert not store.exists("a/b")
    store.put_bytes("a/b/c.bin", b"second")
    assert store.get_bytes("a/b/c.bin") == b"second"
    store.put_bytes("empty", b"")
    assert store.get_bytes("empty") == b""
    store.delete("a/b/c.bin")
    store.delete("a/b/c.bin")
    assert not store.exists("a/b/c.bin")
    assert store.list() == ["empty"]


def test_files_round_trip(store, tmp_path):
    source = tmp_path / "in.bin"
    source.write_bytes(bytes(range(256)) * 100)
    store.put_file("files/in.bin", source)
    target = tmp_path / "out" / "deeper" / "copy.bin"
    store.get_file("files/in.bin", target)
    assert target.read_bytes() == source.read_bytes()
    source.write_bytes(b"replaced")
    store.put_file("files/in.bin", source)
    store.get_file("files/in.bin", target)
    assert target.read_bytes() == b"replaced"
    assert [p.name for p in target.parent.iterdir()] == ["copy.bin"]


def test_put_file_of_a_missing_file_names_it(store, tmp_path):
    with pytest.raises(StoreError, match=r"nope.bin: no such file to store as 'k'"):
        store.put_file("k", tmp_path / "nope.bin")
    assert store.list() == []


def test_list_is_by_folder_and_sorted(store):
    for key in ["acq/a10/x", "acq/a1/y", "acq/a1/sub/z", "other/w", "top"]:
        store.put_bytes(key, b"1")
    assert store.list("acq/a1") == ["acq/a1/sub/z", "acq/a1/y"]
    assert store.list("acq/a1/") == ["acq/a1/sub/z", "acq/a1/y"]
    assert store.list("acq/") == ["acq/a1/sub/z", "acq/a1/y", "acq/a10/x"]
    assert store.list() == ["acq/a1/sub/z", "acq/a1/y", "acq/a10/x", "other/w", "top"]
    assert store.list("/") == store.list()
    assert store.list("nothing/") == []
    assert store.list("top") == []


def test_list_non_recursive_shows_children(store):
    for key in ["acq/a1/y", "acq/a1/sub/z", "acq/readme", "top"]:
        store.put_bytes(key, b"1")
    assert store.list(recursive=False) == ["acq/", "top"]
    assert store.list("acq", recursive=False) == ["acq/a1/", "acq/readme"]
    store.delete("acq/a1/sub/z")
    assert store.list("acq/a1", recursive=False) == ["acq/a1/y"]


def test_missing_key_one_line(store, tmp_path):
    with pytest.raises(MissingKeyError, match=r"^(file|s3)://\S+: no such key 'not/there.bin'"):
        store.get_bytes("not/there.bin")
    with pytest.raises(MissingKeyError, match=r"no such key 'not/there.bin'"):
        store.get_file("not/there.bin", tmp_path / "dest.bin")
    assert list(tmp_path.iterdir()) == []


BAD_KEYS = {
    "": r"store key '': expected a relative path",
    "/abs/key": r"store key '/abs/key': expected a relative path, not one starting with '/'",
    "a/../b": r"store key 'a/../b': expected a relative path without '\.\.'",
    "..": r"store key '\.\.': expected a relative path without '\.\.'",
    "a//b": r"store key 'a//b': expected a relative path without empty or '\.' parts",
    "dir/": r"store key 'dir/': expected a relative path without empty or '\.' parts",
    "./a": r"store key '\./a': expected a relative path without empty or '\.' parts",
}


@pytest.mark.parametrize("key", list(BAD_KEYS))
def test_bad_keys_refused_by_every_primitive(store, tmp_path, key):
    source = tmp_path / "f"
    source.write_bytes(b"x")
    calls = [
        lambda: store.put_bytes(key, b"x"),
        lambda: store.get_bytes(key),
        lambda: store.put_file(key, source),
        lambda: store.get_file(key, tmp_path / "g"),
        lambda: store.exists(key),
        lambda: store.delete(key),
    ]
    for call in calls:
        with pytest.raises(StoreError, match=BAD_KEYS[key]):
            call()


def test_bad_prefixes_refused(store):
    with pytest.raises(StoreError, match=r"store key '\.\./up'"):
        store.list("../up")
    with pytest.raises(StoreError, match=r"store key '/abs'"):
        store.is_complete("/abs")


def test_json_helpers(store):
    store.write_json("ledger.json", {"b": 1, "a": [1, 2]})
    assert store.read_json("ledger.json") == {"a": [1, 2], "b": 1}
    assert store.get_bytes("ledger.json").decode().startswith('{\n  "a"')
    store.put_bytes("broken.json", b'{"a": ')
    pattern = r"key 'broken.json' is not valid JSON \(Expecting value at line 1\)"
    with pytest.raises(StoreError, match=pattern):
        store.read_json("broken.json")
    with pytest.raises(StoreError, match=r"cannot write key 'bad.json' as JSON"):
        store.write_json("bad.json", {"x": object()})
    assert not store.exists("bad.json")
    with pytest.raises(MissingKeyError, match="no such key 'absent.json'"):
        store.read_json("absent.json")


def test_probe_passes_on_a_usable_store(store):
    store.probe()


def make_output(folder, manifest=True, files=None):
    files = files or {"tiles/t0.bin": b"tile0", "z_last_name.bin": b"z", "a/b/c.txt": b"c"}
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    (folder / "leftover.tmp").write_bytes(b"unfinished")
    if manifest:
        (folder / MANIFEST_NAME).write_text(json.dumps({"stage": "x", "files": sorted(files)}))
    return folder


def record_uploads(store, monkeypatch):
    """Record the order of uploads and whether the output read as complete at each one."""
    uploads = []
    original = store.put_file

    def put_file(key, path):
        uploads.append((key, store.is_complete("acq/a1")))
        original(key, path)

    monkeypatch.setattr(store, "put_file", put_file)
    return uploads


def test_publish_uploads_manifest_last_and_fetch_round_trips(store, tmp_path, monkeypatch):
    work = tmp_path / "work"
    uploads = record_uploads(store, monkeypatch)
    written = store.publish_dir(make_output(work / "out"), "acq/a1")
    assert [key for key, _ in uploads] == written
    data = ["acq/a1/a/b/c.txt", "acq/a1/tiles/t0.bin", "acq/a1/z_last_name.bin"]
    assert written == [*data, "acq/a1/manifest.json"]
    assert not any(complete for _, complete in uploads)
    assert store.is_complete("acq/a1") and store.is_complete("acq/a1/")
    fetched = store.fetch_dir("acq/a1", work / "fetched")
    assert fetched == work / "fetched"
    assert (fetched / "tiles" / "t0.bin").read_bytes() == b"tile0"
    assert (fetched / "a" / "b" / "c.txt").read_bytes() == b"c"
    assert json.loads((fetched / MANIFEST_NAME).read_text())["stage"] == "x"
    assert not (fetched / "leftover.tmp").exists()
    assert sorted(p.name for p in work.iterdir()) == ["fetched", "out"]


def test_republish_hides_the_old_manifest_first_and_drops_stale_objects(
    store, tmp_path, monkeypatch
):
    store.publish_dir(make_output(tmp_path / "v1"), "acq/a1")
    uploads = record_uploads(store, monkeypatch)
    store.publish_dir(make_output(tmp_path / "v2", files={"tiles/t0.bin": b"new"}), "acq/a1")
    assert uploads == [("acq/a1/tiles/t0.bin", False), ("acq/a1/manifest.json", False)]
    assert store.list("acq/a1") == ["acq/a1/manifest.json", "acq/a1/tiles/t0.bin"]
    assert store.read_json("acq/a1/manifest.json")["files"] == ["tiles/t0.bin"]


def test_an_output_without_manifest_is_not_published(store, tmp_path):
    with pytest.raises(StoreError, match=r"out is incomplete: no manifest.json; refusing to"):
        store.publish_dir(make_output(tmp_path / "out", manifest=False), "acq/a2")
    with pytest.raises(StoreError, match=r"missing: no such folder to publish"):
        store.publish_dir(tmp_path / "missing", "acq/a2")
    assert store.list() == []


def test_an_interrupted_publish_stays_incomplete(store, tmp_path, monkeypatch):
    original = store.put_file

    def failing_put_file(key, path):
        if key.endswith(MANIFEST_NAME):
            raise StoreError("simulated crash before the manifest")
        original(key, path)

    monkeypatch.setattr(store, "put_file", failing_put_file)
    with pytest.raises(StoreError, match="simulated crash"):
        store.publish_dir(make_output(tmp_path / "out"), "acq/a3")
    assert store.exists("acq/a3/tiles/t0.bin")
    assert not store.is_complete("acq/a3")
    with pytest.raises(MissingKeyError, match=r"'acq/a3' is missing or incomplete \(no manifest"):
        store.fetch_dir("acq/a3", tmp_path / "dest")
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_fetch_of_an_incomplete_or_absent_prefix_leaves_nothing(store, tmp_path):
    store.put_bytes("acq/a4/tiles/t0.bin", b"half")
    for prefix in ("acq/a4", "acq/never"):
        assert not store.is_complete(prefix)
        with pytest.raises(MissingKeyError, match=f"'{prefix}' is missing or incomplete"):
            store.fetch_dir(prefix, tmp_path / "work" / "dest")
    assert list(tmp_path.iterdir()) == []


def test_fetch_refuses_a_non_empty_destination_unless_replacing(store, tmp_path):
    store.publish_dir(make_output(tmp_path / "out"), "acq/a5")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(StoreError, match=r"busy: destination exists and is not empty; pass"):
        store.fetch_dir("acq/a5", busy)
    assert [p.name for p in busy.iterdir()] == ["keep.txt"]
    store.fetch_dir("acq/a5", busy, replace=True)
    expected = ["a", MANIFEST_NAME, "tiles", "z_last_name.bin"]
    assert sorted(p.name for p in busy.iterdir()) == expected
    (tmp_path / "empty").mkdir()
    store.fetch_dir("acq/a5", tmp_path / "empty")
    assert (tmp_path / "empty" / MANIFEST_NAME).is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_fetch_refuses_an_output_republished_meanwhile(store, tmp_path, monkeypatch):
    store.publish_dir(make_output(tmp_path / "out"), "acq/a6")
    original = store.get_file

    def get_file_while_republishing(key, path):
        store.put_bytes("acq/a6/manifest.json", b'{"stage": "newer"}')
        original(key, path)

    monkeypatch.setattr(store, "get_file", get_file_while_republishing)
    with pytest.raises(StoreError, match=r"'acq/a6' changed while it was fetched; fetch it again"):
        store.fetch_dir("acq/a6", tmp_path / "dest")
    assert not (tmp_path / "dest").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
