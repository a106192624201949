import pytest

from stainworth.errors import StoreError
from stainworth.store import FileStore, S3Store, default_store_uri, open_store


def test_default_is_runs_store_under_cwd(tmp_path, monkeypatch):
    monkeypatch.delenv("STAINWORTH_STORE", raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_store_uri() == f"file://{tmp_path}/runs/store"
    assert open_store().uri == f"file://{tmp_path}/runs/store"


def test_environment_overrides_default(tmp_path, monkeypatch):
    monkeypatch.setenv("STAINWORTH_STORE", f"file://{tmp_path}/elsewhere")
    assert isinstance(open_store(), FileStore)
    assert open_store().uri == f"file://{tmp_path}/elsewhere"


def test_relative_file_uri_resolves_against_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert open_store("file://data/store").uri == f"file://{tmp_path}/data/store"


def test_s3_uri(s3_env):
    store = open_store("s3://my-bucket/a/b")
    assert isinstance(store, S3Store) and store.uri == "s3://my-bucket/a/b"


@pytest.mark.parametrize(
    ("uri", "pattern"),
    [
        ("ftp://x/y", r"unsupported scheme 'ftp'; expected file:// or s3://bucket/prefix"),
        ("just-a-path", r"expected file:///path or s3://bucket/prefix"),
        ("s3://", r"bucket '' is not a valid S3 bucket name"),
        ("s3://Bad_Bucket/p", r"bucket 'Bad_Bucket' is not a valid S3 bucket name"),
        ("file://", r"no folder given"),
    ],
)
def test_bad_uris_one_line(uri, pattern):
    with pytest.raises(StoreError, match=pattern):
        open_store(uri)
