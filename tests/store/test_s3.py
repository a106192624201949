"""S3-specific behaviour against the live server process: multipart, buckets, outages, secrets."""

import json
import logging
import os
import threading
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from minio import Minio

from stainworth.errors import CredentialsError, MissingKeyError, StoreError, StoreUnreachableError
from stainworth.store import S3Store
from stainworth.store.retry import RetryPolicy
from stainworth.store.s3_settings import S3Settings

MIB = 1024 * 1024


def raw_client(env):
    keys = env["MINIO_ACCESS_KEY"], env["MINIO_SECRET_KEY"]
    return Minio(env["MINIO_ENDPOINT"], *keys, secure=False)


def test_multipart_objects_round_trip(s3_store, s3_env, tmp_path):
    payload = os.urandom(11 * MIB + 123)
    source = tmp_path / "big.bin"
    source.write_bytes(payload)
    s3_store.put_file("big/file.bin", source)
    assert s3_store.etag("big/file.bin").endswith("-3")
    stat = raw_client(s3_env).stat_object(s3_store.bucket, "some/prefix/big/file.bin")
    assert stat.size == len(payload) and stat.etag.endswith("-3")
    s3_store.get_file("big/file.bin", tmp_path / "back.bin")
    assert (tmp_path / "back.bin").read_bytes() == payload
    six_mib_parts = S3Store(s3_store.bucket, "some/prefix", env=s3_env, part_size=6 * MIB)
    six_mib_parts.put_bytes("big/bytes.bin", payload)
    assert s3_store.etag("big/bytes.bin").endswith("-2")
    assert s3_store.get_bytes("big/bytes.bin") == payload


def test_small_objects_are_single_part(s3_store):
    s3_store.put_bytes("small.bin", os.urandom(MIB))
    assert "-" not in s3_store.etag("small.bin")


def test_part_size_below_the_s3_minimum_is_refused(s3_env):
    with pytest.raises(StoreError, match=r"part_size 1048576: expected at least 5242880 bytes"):
        S3Store("bkt", "p", env=s3_env, part_size=MIB)


def test_bucket_created_on_first_write_but_not_by_reads(s3_env, new_bucket):
    bucket = new_bucket("fresh")
    store = S3Store.from_uri(f"s3://{bucket}/p", env=s3_env)
    assert store.list() == [] and not store.exists("k")
    pattern = rf"s3://{bucket}/p: no such key 'k' \(bucket '{bucket}' does not exist\)"
    with pytest.raises(MissingKeyError, match=pattern):
        store.get_bytes("k")
    assert not raw_client(s3_env).bucket_exists(bucket)
    store.put_bytes("k", b"v")
    assert raw_client(s3_env).bucket_exists(bucket)
    assert S3Store(bucket, "p", env=s3_env).get_bytes("k") == b"v"


def test_missing_key_names_bucket_prefix_and_key(s3_store):
    s3_store.put_bytes("present", b"1")
    with pytest.raises(MissingKeyError) as caught:
        s3_store.get_bytes("a/b")
    assert str(caught.value) == f"s3://{s3_store.bucket}/some/prefix: no such key 'a/b'"


def test_whole_bucket_store_and_region_setting(s3_env, new_bucket, monkeypatch):
    monkeypatch.setenv("MINIO_REGION", "us-east-1")
    store = S3Store(new_bucket(), "")
    store.put_bytes("top.json", b"{}")
    assert store.list() == ["top.json"] and store.read_json("top.json") == {}
    assert store.uri == f"s3://{store.bucket}"


def unreachable_store(env, port, attempts, waits):
    policy = RetryPolicy(attempts=attempts, base_delay=0.25, max_delay=4.0, sleep=waits.append)
    unreachable = {**env, "MINIO_ENDPOINT": f"127.0.0.1:{port}"}
    return S3Store("bkt", "pfx", env=unreachable, retry=policy)


@pytest.mark.parametrize(("attempts", "expected_waits"), [(4, [0.25, 0.5, 1.0]), (2, [0.25])])
def test_unreachable_endpoint_bounded_retries_then_one_line(
    s3_env, closed_port, attempts, expected_waits, caplog
):
    waits = []
    store = unreachable_store(s3_env, closed_port, attempts, waits)
    caplog.set_level(logging.WARNING, logger="stainworth.store")
    with pytest.raises(StoreUnreachableError) as caught:
        store.get_bytes("x")
    assert str(caught.value) == (
        f"store s3://bkt/pfx at {store.endpoint}: unreachable after {attempts} attempts "
        "(connection refused); check MINIO_ENDPOINT"
    )
    assert waits == expected_waits
    assert len(caplog.records) == attempts - 1
    assert all(s3_env["MINIO_SECRET_KEY"] not in record.getMessage() for record in caplog.records)


def test_unreachable_endpoint_on_writes_and_probe(s3_env, closed_port):
    for operation in ("probe", "put_bytes"):
        waits = []
        store = unreachable_store(s3_env, closed_port, 3, waits)
        with pytest.raises(StoreUnreachableError, match="unreachable after 3 attempts"):
            store.probe() if operation == "probe" else store.put_bytes("k", b"v")
        assert waits == [0.25, 0.5]


class FakeS3:
    """An HTTP server that answers every request with one S3 error, counting requests."""

    def __init__(self, status, code):
        self.requests = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self):
                fake.requests += 1
                body = (
                    f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
                    f"<Message>fake {code}</Message><Resource>/x</Resource>"
                    "<RequestId>1</RequestId></Error>"
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_HEAD = do_PUT = answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_s3(request):
    status, code = request.param
    server = FakeS3(status, code)
    yield server
    server.close()


@pytest.mark.parametrize("fake_s3", [(503, "SlowDown")], indirect=True)
def test_server_errors_are_retried_then_reported(fake_s3, s3_env):
    waits = []
    env = {**s3_env, "MINIO_ENDPOINT": fake_s3.endpoint}
    store = S3Store("bkt", "pfx", env=env, retry=RetryPolicy(attempts=3, sleep=waits.append))
    with pytest.raises(StoreUnreachableError) as caught:
        store.get_bytes("x")
    assert str(caught.value) == (
        f"store s3://bkt/pfx at {fake_s3.endpoint}: still failing after 3 attempts "
        "(HTTP 503 SlowDown); check the server's health"
    )
    assert fake_s3.requests == 3
    assert waits == [0.25, 0.5]


@pytest.mark.parametrize("fake_s3", [(400, "InvalidArgument")], indirect=True)
def test_client_errors_are_not_retried(fake_s3, s3_env):
    waits = []
    env = {**s3_env, "MINIO_ENDPOINT": fake_s3.endpoint}
    store = S3Store("bkt", "pfx", env=env, retry=RetryPolicy(attempts=4, sleep=waits.append))
    with pytest.raises(StoreError) as caught:
        store.get_bytes("x")
    assert str(caught.value) == (
        f"store s3://bkt/pfx at {fake_s3.endpoint}: read 'x' failed "
        "(InvalidArgument: fake InvalidArgument)"
    )
    assert fake_s3.requests == 1 and waits == []


def test_tls_against_a_plain_http_server_is_one_line_without_retries(s3_env):
    waits = []
    env = {**s3_env, "MINIO_SECURE": "true"}
    store = S3Store("bkt", "p", env=env, retry=RetryPolicy(sleep=waits.append))
    with pytest.raises(StoreError, match=r"TLS handshake failed; check MINIO_SECURE and the"):
        store.exists("k")
    assert waits == []


@pytest.mark.parametrize(
    ("drop", "names"),
    [
        (["MINIO_ENDPOINT"], "MINIO_ENDPOINT"),
        (["MINIO_ACCESS_KEY"], "MINIO_ACCESS_KEY"),
        (["MINIO_SECRET_KEY"], "MINIO_SECRET_KEY"),
        (["MINIO_ACCESS_KEY", "MINIO_SECRET_KEY"], "MINIO_ACCESS_KEY, MINIO_SECRET_KEY"),
    ],
)
def test_missing_configuration_names_the_variables(s3_env, drop, names):
    env = {name: value for name, value in s3_env.items() if name not in drop}
    with pytest.raises(CredentialsError) as caught:
        S3Store("bkt", "p", env=env)
    assert str(caught.value).startswith(f"s3 store: {names} not set;")
    assert s3_env["MINIO_SECRET_KEY"] not in str(caught.value)


@pytest.mark.parametrize(
    ("endpoint", "secure_word", "expected"),
    [
        ("http://example.test:9000/", "", ("example.test:9000", False)),
        ("https://example.test:9000", "", ("example.test:9000", True)),
        ("HTTP://example.test:9000", "true", ("example.test:9000", False)),
        ("example.test:9000", "true", ("example.test:9000", True)),
        ("example.test:9000", "False", ("example.test:9000", False)),
    ],
)
def test_endpoint_forms(s3_env, endpoint, secure_word, expected):
    env = {**s3_env, "MINIO_ENDPOINT": endpoint, "MINIO_SECURE": secure_word}
    store = S3Store("bkt", "p", env=env)
    assert (store.endpoint, store.secure) == expected


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"MINIO_SECURE": "maybe"}, "MINIO_SECURE 'maybe': expected true or false"),
        ({"MINIO_ENDPOINT": "http://user:pass-in-url@host:9000"},
         "MINIO_ENDPOINT: expected host:port without user or password in it; "
         "put the keys in MINIO_ACCESS_KEY and MINIO_SECRET_KEY"),
        ({"MINIO_ENDPOINT": "http://host:9000/minio"},
         "MINIO_ENDPOINT 'host:9000/minio': expected host:port "
         "or http(s)://host:port without a path"),
    ],
)
def test_bad_endpoint_settings(s3_env, override, message):
    with pytest.raises(CredentialsError) as caught:
        S3Store("bkt", "p", env={**s3_env, **override})
    assert str(caught.value) == message


def test_secrets_never_in_repr_uri_or_messages(s3_store, s3_env, closed_port):
    settings = S3Settings.from_env(s3_env)
    shown = [repr(s3_store), s3_store.uri, repr(settings), str(settings)]
    with pytest.raises(MissingKeyError) as missing:
        s3_store.get_bytes("absent")
    shown.append(str(missing.value))
    store = unreachable_store(s3_env, closed_port, 1, [])
    with pytest.raises(StoreUnreachableError) as unreachable:
        store.exists("k")
    shown.append(str(unreachable.value))
    assert all(s3_env["MINIO_SECRET_KEY"] not in text for text in shown)
    endpoint = s3_env["MINIO_ENDPOINT"]
    assert repr(s3_store) == f"S3Store('{s3_store.uri}', endpoint='{endpoint}', secure=False)"


def set_auth_after(server, requests):
    """Let ``requests`` more requests through unauthenticated, then check every signature."""
    request = urllib.request.Request(
        f"http://{server}/moto-api/reset-auth",
        data=str(requests).encode(),
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    urllib.request.urlopen(request, timeout=10).close()


@pytest.fixture
def iam_user(s3_server, s3_env, new_bucket):
    """Turn on moto's IAM checks; a user allowed all of S3 except creating buckets.

    Yields ``(access_key, secret_key, bucket)`` with ``bucket`` created beforehand.
    """
    import boto3

    bucket = new_bucket("auth")
    S3Store(bucket, "", env=s3_env).probe()
    name = f"user-{uuid.uuid4().hex[:8]}"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:CreateBucket", "Resource": "*"},
        ],
    }
    set_auth_after(s3_server, 3)
    try:
        iam = boto3.client("iam", endpoint_url=f"http://{s3_server}", region_name="us-east-1",
                           aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName="s3", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        yield key["AccessKeyId"], key["SecretAccessKey"], bucket
    finally:
        set_auth_after(s3_server, "inf")


def test_rejected_credentials_are_one_line_without_the_secret(iam_user, s3_env):
    access_key, secret_key, bucket = iam_user
    cases = [("AKIAUNKNOWN000000000", "whatever-secret-1", "InvalidAccessKeyId"),
             (access_key, "wrong-secret-value-2", "SignatureDoesNotMatch")]
    for key, secret, code in cases:
        env = {**s3_env, "MINIO_ACCESS_KEY": key, "MINIO_SECRET_KEY": secret}
        for operation in ("get_bytes", "put_bytes", "probe"):
            store = S3Store(bucket, "p", env=env)
            arguments = {"get_bytes": ("k",), "put_bytes": ("k", b"v"), "probe": ()}[operation]
            with pytest.raises(CredentialsError) as caught:
                getattr(store, operation)(*arguments)
            assert str(caught.value) == (
                f"store s3://{bucket}/p at {s3_env['MINIO_ENDPOINT']}: credentials rejected "
                f"({code}); check MINIO_ACCESS_KEY and MINIO_SECRET_KEY"
            )
            assert secret not in str(caught.value) and secret not in repr(store)


def test_valid_credentials_work_and_a_forbidden_bucket_creation_is_one_line(
    iam_user, s3_env, new_bucket
):
    access_key, secret_key, bucket = iam_user
    env = {**s3_env, "MINIO_ACCESS_KEY": access_key, "MINIO_SECRET_KEY": secret_key}
    store = S3Store(bucket, "p", env=env)
    store.put_bytes("k", b"v")
    assert store.get_bytes("k") == b"v"
    missing_bucket = new_bucket("nope")
    with pytest.raises(CredentialsError) as caught:
        S3Store(missing_bucket, "p", env=env).put_bytes("k", b"v")
    assert str(caught.value) == (
        f"store s3://{missing_bucket}/p at {s3_env['MINIO_ENDPOINT']}: bucket '{missing_bucket}' "
        "does not exist and could not be created (AccessDenied); create it first "
        "or let the MINIO_ACCESS_KEY user create buckets"
    )
    assert secret_key not in str(caught.value)
