"""``s3://bucket/prefix`` store on MinIO (or any S3 server) through the ``minio`` client.

Configuration comes from the environment: ``MINIO_ENDPOINT`` (``host:port`` or a URL
``http(s)://host:port``), ``MINIO_ACCESS_KEY``, ``MINIO_SECRET_KEY``, ``MINIO_SECURE``
(``true``/``false``, default false) and optionally ``MINIO_REGION``. The client's own urllib3
retries are switched off: transient failures (connection refused, timeouts, HTTP 5xx) are
retried by a :class:`~stainworth.store.retry.RetryPolicy`, so the total time is bounded, and
then reported as one :class:`~stainworth.errors.StoreUnreachableError` line. Secrets never
appear in messages, logs or ``repr``. The settings are read in :mod:`stainworth.store.s3_settings`;
failures are classified in :mod:`stainworth.store.s3_errors`.
"""

from __future__ import annotations

import builtins
import io
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import certifi
import urllib3
from minio import Minio
from minio.error import MinioException, S3Error
from urllib3.exceptions import HTTPError

from stainworth.errors import CredentialsError, MissingKeyError, StoreError, StoreUnreachableError
from stainworth.store.base import Store
from stainworth.store.keys import check_key, check_prefix, join_key
from stainworth.store.local_files import atomic_local_file
from stainworth.store.retry import RetriesExhausted, RetryPolicy
from stainworth.store.s3_errors import (
    AUTH_FAILURES,
    describe_failure,
    http_status,
    is_transient,
    root_cause,
    transient_reason,
)
from stainworth.store.s3_settings import S3Settings, check_bucket, parse_s3_uri

T = TypeVar("T")

MIN_PART_SIZE = 5 * 1024 * 1024
"""S3's smallest multipart part (except the last); objects larger than the part size use
multipart uploads."""


def _http_client(connect_timeout: float, read_timeout: float) -> urllib3.PoolManager:
    """A connection pool that never retries by itself (our policy does) and times out.

    Certificates are checked against ``SSL_CERT_FILE`` if set, else certifi's bundle (as the
    minio client does by default).
    """
    return urllib3.PoolManager(
        retries=urllib3.Retry(total=0, connect=0, read=0, redirect=0, status=0, other=0),
        timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
        maxsize=10,
        cert_reqs="CERT_REQUIRED",
        ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
    )


class S3Store(Store):
    """A store under ``prefix`` in ``bucket`` on an S3-speaking server.

    The bucket is created by the first write (or :meth:`probe`) if it does not exist and the
    credentials allow it; reads never create it. Nothing contacts the server before the first
    operation. An unreachable server costs at most ``retry.attempts * connect_timeout`` plus
    the retry waits (about 22 s with the defaults) before one
    :class:`~stainworth.errors.StoreUnreachableError`.

    Parameters
    ----------
    bucket : str
        Bucket name.
    prefix : str
        Folder inside the bucket that is the store's root (``""``: the whole bucket).
    env : Mapping[str, str] or None
        Where to read the ``MINIO_*`` settings (default: the process environment).
    settings : S3Settings or None
        Explicit settings instead of ``env``.
    retry : RetryPolicy or None
        Policy for transient failures (default: 4 attempts, 0.25 s doubling, 4 s cap).
    part_size : int
        Multipart part size in bytes (at least 5 MiB); larger objects use multipart uploads.
    connect_timeout, read_timeout : float
        Seconds to wait for a connection and for each read from it.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        env: Mapping[str, str] | None = None,
        settings: S3Settings | None = None,
        retry: RetryPolicy | None = None,
        part_size: int = MIN_PART_SIZE,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
    ) -> None:
        self.bucket = check_bucket(bucket, f"s3 store bucket '{bucket}'")
        self.prefix = check_prefix(prefix)
        if part_size < MIN_PART_SIZE:
            raise StoreError(
                f"s3 store part_size {part_size}: expected at least {MIN_PART_SIZE} bytes"
            )
        settings = settings or S3Settings.from_env(env)
        self.endpoint = settings.endpoint
        self.secure = settings.secure
        self.part_size = part_size
        self.retry = retry or RetryPolicy()
        self._client = Minio(
            settings.endpoint,
            access_key=settings.access_key,
            secret_key=settings.secret_key,
            secure=settings.secure,
            region=settings.region,
            http_client=_http_client(connect_timeout, read_timeout),
        )
        self._bucket_ready = False

    @classmethod
    def from_uri(cls, uri: str, **options: Any) -> S3Store:
        """Open ``s3://bucket/prefix``; ``options`` are passed to the constructor."""
        bucket, prefix = parse_s3_uri(uri)
        return cls(bucket, prefix, **options)

    def __repr__(self) -> str:
        return f"S3Store({self.uri!r}, endpoint={self.endpoint!r}, secure={self.secure})"

    @property
    def uri(self) -> str:
        """``s3://bucket/prefix`` (``s3://bucket`` for a whole bucket)."""
        return f"s3://{join_key(self.bucket, self.prefix)}"

    def _name(self, key: str) -> str:
        return join_key(self.prefix, check_key(key))

    def _call(
        self,
        action: str,
        key: str,
        operation: Callable[[], T],
        translate: Callable[[S3Error, str, str], StoreError] | None = None,
    ) -> T:
        """Run one client operation under the retry policy and translate its errors.

        Parameters
        ----------
        action, key : str
            What is done to which key, for messages (``"read"``, ``"a/b.json"``).
        operation : Callable[[], T]
            The client call; repeated on transient failures, so it must be idempotent.
        translate : Callable or None
            Turns an S3 error answer into a :class:`StoreError` (default: :meth:`_translate`).
        """
        where = f"store {self.uri} at {self.endpoint}"
        try:
            return self.retry.run(operation, is_transient, describe=f"{where}: {action} '{key}'")
        except RetriesExhausted as exhausted:
            raise self._unreachable(exhausted) from None
        except S3Error as error:
            raise (translate or self._translate)(error, action, key) from None
        except (MinioException, HTTPError, OSError, ValueError) as error:
            raise StoreError(f"{where}: {action} '{key}' failed ({describe_failure(error)})") from None

    def _unreachable(self, exhausted: RetriesExhausted) -> StoreUnreachableError:
        reason = transient_reason(exhausted.last_error)
        status = http_status(root_cause(exhausted.last_error))
        what, hint = ("unreachable", "check MINIO_ENDPOINT")
        if status is not None:
            what, hint = ("still failing", "check the server's health")
        return StoreUnreachableError(
            f"store {self.uri} at {self.endpoint}: {what} after {exhausted.attempts} attempts "
            f"({reason}); {hint}"
        )

    def _translate(self, error: S3Error, action: str, key: str) -> StoreError:
        where = f"store {self.uri} at {self.endpoint}"
        if error.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
            return MissingKeyError(f"{self.uri}: no such key '{key}'")
        if error.code == "NoSuchBucket":
            return MissingKeyError(
                f"{self.uri}: no such key '{key}' (bucket '{self.bucket}' does not exist)"
            )
        if error.code == "AccessDenied":
            return CredentialsError(
                f"{where}: access denied to {action} '{key}'; check MINIO_ACCESS_KEY, "
                f"MINIO_SECRET_KEY and that user's permissions on bucket '{self.bucket}'"
            )
        if error.code in AUTH_FAILURES:
            return CredentialsError(
                f"{where}: credentials rejected ({error.code}); "
                "check MINIO_ACCESS_KEY and MINIO_SECRET_KEY"
            )
        return StoreError(f"{where}: {action} '{key}' failed ({error.code}: {error.message})")

    def _ensure_bucket(self) -> None:
        """Create the bucket unless it exists (checked once per store object)."""
        if self._bucket_ready:
            return
        bucket = self.bucket
        if not self._call("check bucket", bucket, lambda: self._client.bucket_exists(bucket)):
            self._call("create bucket", self.bucket, self._create_bucket, self._bucket_failure)
        self._bucket_ready = True

    def _create_bucket(self) -> None:
        """Make the bucket; someone else creating it at the same moment is fine."""
        try:
            self._client.make_bucket(self.bucket)
        except S3Error as error:
            if error.code != "BucketAlreadyOwnedByYou":
                raise

    def _bucket_failure(self, error: S3Error, action: str, key: str) -> StoreError:
        """One line for a bucket that is missing and could not be created."""
        kind = CredentialsError if error.code in AUTH_FAILURES else StoreError
        return kind(
            f"store {self.uri} at {self.endpoint}: bucket '{self.bucket}' does not exist and "
            f"could not be created ({error.code}); create it first "
            "or let the MINIO_ACCESS_KEY user create buckets"
        )

    def probe(self) -> None:
        """Reach the server, check the credentials and make sure the bucket exists."""
        self._ensure_bucket()

    def put_bytes(self, key: str, data: bytes) -> None:
        """Upload bytes (multipart when larger than the part size)."""
        name = self._name(key)
        payload = bytes(data)
        self._ensure_bucket()
        self._call("write", key, lambda: self._put_stream(name, io.BytesIO(payload), len(payload)))

    def put_file(self, key: str, path: str | Path) -> None:
        """Upload a local file (multipart when larger than the part size)."""
        name = self._name(key)
        source = Path(path)
        if not source.is_file():
            raise StoreError(f"{source}: no such file to store as '{key}'")
        self._ensure_bucket()

        def upload() -> None:
            with open(source, "rb") as stream:
                self._put_stream(name, stream, os.fstat(stream.fileno()).st_size)

        self._call("upload", key, upload)

    def _put_stream(self, name: str, stream: BinaryIO, length: int) -> None:
        self._client.put_object(self.bucket, name, stream, length, part_size=self.part_size)

    def get_bytes(self, key: str) -> bytes:
        """Download an object's bytes; :class:`MissingKeyError` when absent."""
        name = self._name(key)
        return self._call("read", key, lambda: self._read(name, None))

    def get_file(self, key: str, path: str | Path) -> None:
        """Download an object to the local file ``path``, written atomically."""
        name = self._name(key)
        self._call("download", key, lambda: self._read(name, Path(path)))

    def _read(self, name: str, target: Path | None) -> bytes:
        """Read object ``name`` into memory (``target`` None) or into the file ``target``."""
        response = self._client.get_object(self.bucket, name)
        try:
            if target is None:
                return bytes(response.read())
            with atomic_local_file(target) as sink:
                for chunk in response.stream(1 << 20):
                    sink.write(chunk)
            return b""
        finally:
            response.close()
            response.release_conn()

    def exists(self, key: str) -> bool:
        """Whether the object exists."""
        name = self._name(key)
        try:
            self._call("check", key, lambda: self._client.stat_object(self.bucket, name))
        except MissingKeyError:
            return False
        return True

    def etag(self, key: str) -> str:
        """The object's ETag as the server reports it (multipart uploads end in ``-<parts>``)."""
        name = self._name(key)
        stat = self._call("check", key, lambda: self._client.stat_object(self.bucket, name))
        return str(stat.etag)

    def list(self, prefix: str = "", recursive: bool = True) -> builtins.list[str]:
        """Sorted keys inside the folder ``prefix`` (see :meth:`Store.list`)."""
        folder = join_key(self.prefix, check_prefix(prefix))
        start = folder + "/" if folder else ""
        strip = len(self.prefix) + 1 if self.prefix else 0

        def names() -> builtins.list[str]:
            objects = self._client.list_objects(self.bucket, prefix=start, recursive=recursive)
            return [str(item.object_name) for item in objects]

        try:
            found = self._call("list", prefix, names)
        except MissingKeyError:
            return []
        return sorted(name[strip:] for name in found if name.startswith(start) and name != start)

    def delete(self, key: str) -> None:
        """Remove an object (no error when absent)."""
        name = self._name(key)
        try:
            self._call("delete", key, lambda: self._client.remove_object(self.bucket, name))
        except MissingKeyError:
            return
