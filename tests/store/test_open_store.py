import pytest

from stainworth.errors import CredentialsError, StoreError
from stainworth.store import FileStore, S3Store, default_store_uri, open_store


def test_default_is_runs_store_under_cwd(tmp_path, monkeypatch):
    monkeypatch.delenv("STAINWORTH_STORE", raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_store_uri() == f"file://{tmp_path}/runs/store"
    store = open_store()
    assert isinstance(store, FileStore)
    assert store.uri == f"file://{tmp_path}/runs/store"
    assert not (tmp_path / "runs").exists()


def test_empty_environment_variable_means_default(tmp_path, monkeypatch):
    monkeypatch.setenv("STAINWORTH_STORE", "  ")
    monkeypatch.chdir(tmp_path)
    assert open_store().uri == f"file://{tmp_path}/runs/store"


def test_environment_overrides_default(tmp_path, monkeypatch):
    monkeypatch.setenv("STAINWORTH_STORE", f"file://{tmp_path}/elsewhere")
    assert open_store().uri == f"file://{tmp_path}/elsewhere"


def test_absolute_and_relative_file_uris(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert open_store(f"file://{tmp_path}/abs").uri == f"file://{tmp_path}/abs"
    relative = open_store("file://data/store")
    assert relative.uri == f"file://{tmp_path}/data/store"
    monkeypatch.chdir("/")
    relative.put_bytes("k", b"v")
    assert (tmp_path / "data" / "store" / "k").read_bytes() == b"v"


def test_s3_uris(s3_env):
    store = open_store("s3://my-bucket/a/b")
    assert isinstance(store, S3Store)
    assert store.uri == "s3://my-bucket/a/b"
    assert (store.bucket, store.prefix) == ("my-bucket", "a/b")
    assert open_store("s3://my-bucket").uri == "s3://my-bucket"
    assert open_store("s3://my-bucket/a/").uri == "s3://my-bucket/a"


def test_s3_uri_without_configuration_names_the_variables(monkeypatch):
    for name in ("MINIO_ENDPOINT", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    pattern = r"^s3 store: MINIO_ENDPOINT, MINIO_ACCESS_KEY, MINIO_SECRET_KEY not set"
    with pytest.raises(CredentialsError, match=pattern):
        open_store("s3://bkt/p")


BUCKET_RULE = "(3-63 lowercase letters, digits, '.' or '-')"
BAD_URIS = {
    "ftp://x": "store URI 'ftp://x': unsupported scheme 'ftp'; expected file:// or s3://bucket/prefix",
    "just-a-path": "store URI 'just-a-path': no scheme; expected file:///path or s3://bucket/prefix",
    "file://": "store URI 'file://': no folder given; expected file:///path",
    "s3://": f"store URI 's3://': bucket '' is not a valid S3 bucket name {BUCKET_RULE}",
    "s3://Bad_Bucket/p": (
        "store URI 's3://Bad_Bucket/p': bucket 'Bad_Bucket' is not a valid S3 bucket name "
        + BUCKET_RULE
    ),
    "s3://bkt/a/../b": (
        "store URI 's3://bkt/a/../b': prefix 'a/../b' must be a relative path "
        "without '..' or empty parts"
    ),
}


@pytest.mark.parametrize(("uri", "message"), list(BAD_URIS.items()))
def test_bad_uris_one_line(uri, message, s3_env):
    with pytest.raises(StoreError) as caught:
        open_store(uri)
    assert str(caught.value) == message
