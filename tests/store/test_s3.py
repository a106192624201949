"""S3-specific behaviour against the live server process: multipart, buckets, outages, secrets."""

import os
import uuid

import pytest

from stainworth.errors import CredentialsError, StoreUnreachableError
from stainworth.store import S3Store, open_store
from stainworth.store.retry import RetryPolicy


def test_multipart_object_round_trip(s3_store, tmp_path):
    payload = os.urandom(11 * 1024 * 1024 + 123)
    source = tmp_path / "big.bin"
    source.write_bytes(payload)
    s3_store.put_file("big/file.bin", source)
    assert s3_store.stat_etag("big/file.bin").endswith("-3")
    s3_store.get_file("big/file.bin", tmp_path / "back.bin")
    assert (tmp_path / "back.bin").read_bytes() == payload
    s3_store.put_bytes("big/bytes.bin", payload)
    assert s3_store.stat_etag("big/bytes.bin").endswith("-3")
    assert s3_store.get_bytes("big/bytes.bin") == payload


def test_bucket_created_on_first_write(s3_env):
    bucket = f"fresh-{uuid.uuid4().hex[:10]}"
    store = open_store(f"s3://{bucket}/p")
    assert store.list() == []
    store.put_bytes("k", b"v")
    assert S3Store(bucket, "p", env=s3_env).get_bytes("k") == b"v"


def test_unreachable_endpoint_bounded_retries_then_one_line(s3_env):
    waits = []
    store = S3Store("bkt", "p", env={**s3_env, "MINIO_ENDPOINT": "127.0.0.1:9"},
                    retry=RetryPolicy(attempts=4, base_delay=0.25, max_delay=4.0, sleep=waits.append))
    with pytest.raises(StoreUnreachableError) as caught:
        store.get_bytes("x")
    assert str(caught.value) == ("store s3://bkt/p at 127.0.0.1:9: unreachable after 4 attempts "
                                 "(connection refused); check MINIO_ENDPOINT")
    assert waits == [0.25, 0.5, 1.0]


def test_backoff_is_capped():
    assert RetryPolicy(attempts=6, base_delay=1.0, max_delay=3.0).delays() == [1.0, 2.0, 3.0, 3.0, 3.0]


@pytest.mark.parametrize(
    ("drop", "pattern"),
    [
        ("MINIO_ENDPOINT", r"MINIO_ENDPOINT is not set"),
        ("MINIO_ACCESS_KEY", r"MINIO_ACCESS_KEY not set"),
        ("MINIO_SECRET_KEY", r"MINIO_SECRET_KEY not set"),
    ],
)
def test_missing_configuration_names_the_variable(s3_env, drop, pattern):
    env = {k: v for k, v in s3_env.items() if k != drop}
    with pytest.raises(CredentialsError, match=pattern):
        S3Store("bkt", "p", env=env)


def test_endpoint_url_form_and_secrets_never_shown(s3_env):
    store = S3Store("bkt", "p", env={**s3_env, "MINIO_ENDPOINT": f"http://{s3_env['MINIO_ENDPOINT']}/"})
    assert store.endpoint == s3_env["MINIO_ENDPOINT"]
    store.put_bytes("k", b"v")
    assert s3_env["MINIO_SECRET_KEY"] not in repr(store) + store.uri
    unreachable = S3Store("bkt", "p", env={**s3_env, "MINIO_ENDPOINT": "127.0.0.1:9"},
                          retry=RetryPolicy(attempts=1))
    with pytest.raises(StoreUnreachableError) as caught:
        unreachable.exists("k")
    assert s3_env["MINIO_SECRET_KEY"] not in str(caught.value)
    assert s3_env["MINIO_ACCESS_KEY"] not in str(caught.value)
