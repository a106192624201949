"""FileStore specifics: atomic writes, no leftovers, tidy folders."""

import shutil

import pytest

from stainworth.errors import StoreError
from stainworth.store import FileStore
from stainworth.store.keys import TEMP_SUFFIX


def all_files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_uri_and_repr(tmp_path):
    store = FileStore(tmp_path / "s")
    assert store.uri == f"file://{tmp_path}/s"
    assert repr(store) == f"FileStore('file://{tmp_path}/s')"


def test_writes_leave_no_temporary_files(tmp_path):
    store = FileStore(tmp_path / "s")
    source = tmp_path / "src.bin"
    source.write_bytes(b"file")
    store.put_bytes("a/b.bin", b"bytes")
    store.put_file("a/c.bin", source)
    store.write_json("a/d.json", {"k": 1})
    store.get_file("a/c.bin", tmp_path / "out" / "c.bin")
    assert all_files(tmp_path / "s") == ["a/b.bin", "a/c.bin", "a/d.json"]
    assert all_files(tmp_path / "out") == ["c.bin"]


def test_failed_write_keeps_the_old_object_and_no_temporary_file(tmp_path, monkeypatch):
    store = FileStore(tmp_path / "s")
    store.put_bytes("k.bin", b"old")
    source = tmp_path / "src.bin"
    source.write_bytes(b"new" * 1000)

    def copy_half_then_fail(source_stream, target_stream):
        target_stream.write(source_stream.read(10))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(shutil, "copyfileobj", copy_half_then_fail)
    pattern = r"^file://.*/s: cannot write key 'k.bin' \(No space left on device\)$"
    with pytest.raises(StoreError, match=pattern):
        store.put_file("k.bin", source)
    assert store.get_bytes("k.bin") == b"old"
    assert all_files(tmp_path / "s") == ["k.bin"]


def test_key_under_an_object_is_refused_in_one_line(tmp_path):
    store = FileStore(tmp_path / "s")
    store.put_bytes("a", b"object")
    pattern = r"cannot write key 'a/b' \((File exists|Not a directory)\)"
    with pytest.raises(StoreError, match=pattern):
        store.put_bytes("a/b", b"x")
    assert all_files(tmp_path / "s") == ["a"]


def test_temporary_files_are_never_listed_nor_keys(tmp_path):
    store = FileStore(tmp_path / "s")
    store.put_bytes("dir/real", b"1")
    (tmp_path / "s" / "dir" / f".real.abc{TEMP_SUFFIX}").write_bytes(b"crashed writer")
    (tmp_path / "s" / "other").mkdir()
    (tmp_path / "s" / "other" / f".x.y{TEMP_SUFFIX}").write_bytes(b"crashed writer")
    assert store.list() == ["dir/real"]
    assert store.list(recursive=False) == ["dir/"]
    with pytest.raises(StoreError, match="is reserved"):
        store.put_bytes(f"dir/.real.abc{TEMP_SUFFIX}", b"x")


def test_delete_prunes_emptied_folders_but_not_the_root(tmp_path):
    store = FileStore(tmp_path / "s")
    store.put_bytes("a/b/c/d", b"1")
    store.put_bytes("a/keep", b"1")
    store.delete("a/b/c/d")
    assert sorted(p.name for p in (tmp_path / "s" / "a").iterdir()) == ["keep"]
    store.delete("a/keep")
    assert (tmp_path / "s").is_dir() and list((tmp_path / "s").iterdir()) == []


def test_reads_of_a_folder_or_a_missing_root_are_missing_keys(tmp_path):
    store = FileStore(tmp_path / "never-created")
    assert store.list() == [] and not store.exists("a")
    store.put_bytes("a/b", b"1")
    assert not store.exists("a")
    with pytest.raises(StoreError, match="no such key 'a'"):
        store.get_bytes("a")
