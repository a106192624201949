"""``s3://bucket/prefix`` store on MinIO (or any S3 server) through the ``minio`` client.

Configuration comes from the environment: ``MINIO_ENDPOINT`` (``host:port`` or a URL),
``MINIO_ACCESS_KEY``, ``MINIO_SECRET_KEY``, ``MINIO_SECURE`` and ``MINIO_REGION``. Transient
failures (connection refused, timeouts, HTTP 5xx) are retried a bounded number of times with
exponential backoff; then one :class:`~stainworth.errors.StoreUnreachableError` line. Secrets
never appear in messages or ``repr``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from io import BytesIO
from pathlib import Path
from typing import TypeVar

import urllib3
from minio import Minio
from minio.error import MinioException, S3Error, ServerError

from stainworth.errors import CredentialsError, MissingKeyError, StoreError, StoreUnreachableError
from stainworth.store.base import Store, check_key, join_key
from stainworth.store.retry import RetryPolicy, TransientError

T = TypeVar("T")
MIN_PART_SIZE = 5 * 1024 * 1024
NOT_FOUND = {"NoSuchKey", "NoSuchObject", "NotFound", "ResourceNotFound", "NoSuchBucket"}
AUTH_FAILURES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken"}


def endpoint_from_env(env: Mapping[str, str]) -> tuple[str, bool]:
    """``(host:port, secure)`` from ``MINIO_ENDPOINT`` and ``MINIO_SECURE``."""
    raw = env.get("MINIO_ENDPOINT", "").strip()
    if not raw:
        raise CredentialsError("s3 store: MINIO_ENDPOINT is not set (expected host:port, e.g. 127.0.0.1:9000)")
    secure = env.get("MINIO_SECURE", "false").strip().lower() in {"1", "true", "yes"}
    for scheme, is_secure in (("https://", True), ("http://", False)):
        if raw.startswith(scheme):
            return raw[len(scheme):].rstrip("/"), is_secure
    return raw.rstrip("/"), secure


def _transient_reason(error: BaseException) -> str:
    text = str(error)
    if "Connection refused" in text or "NewConnectionError" in text:
        return "connection refused"
    if "timed out" in text.lower() or "timeout" in type(error).__name__.lower():
        return "timed out"
    return type(error).__name__


class S3Store(Store):
    """A store under ``prefix`` in ``bucket`` on an S3-speaking server."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        env: Mapping[str, str] | None = None,
        retry: RetryPolicy | None = None,
        part_size: int = MIN_PART_SIZE,
        timeout: float = 5.0,
    ) -> None:
        env = os.environ if env is None else env
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint, secure = endpoint_from_env(env)
        missing = [name for name in ("MINIO_ACCESS_KEY", "MINIO_SECRET_KEY") if not env.get(name)]
        if missing:
            raise CredentialsError(f"s3 store {self.uri}: {' and '.join(missing)} not set")
        if part_size < MIN_PART_SIZE:
            raise StoreError(f"s3 store: part_size {part_size} is below the S3 minimum of {MIN_PART_SIZE}")
        self.part_size = part_size
        self.retry = retry or RetryPolicy()
        http = urllib3.PoolManager(
            retries=urllib3.Retry(total=0, connect=0, read=0, redirect=0, status=0),
            timeout=urllib3.Timeout(connect=timeout, read=max(timeout, 60.0)),
        )
        self._client = Minio(self.endpoint, access_key=env["MINIO_ACCESS_KEY"], secret_key=env["MINIO_SECRET_KEY"],
                             secure=secure, region=env.get("MINIO_REGION") or None, http_client=http)
        self._bucket_ready = False

    def __repr__(self) -> str:
        return f"S3Store({self.uri!r}, endpoint={self.endpoint!r})"

    @property
    def uri(self) -> str:
        """``s3://bucket/prefix``."""
        return f"s3://{join_key(self.bucket, self.prefix)}"

    def _name(self, key: str) -> str:
        return join_key(self.prefix, check_key(key))

    def _call(self, operation: Callable[[], T], *, key: str = "") -> T:
        """Run one client operation with retries and error translation."""

        def attempt() -> T:
            try:
                return operation()
            except (urllib3.exceptions.HTTPError, OSError, ServerError) as error:
                raise TransientError(_transient_reason(error)) from error

        try:
            result, failure = self.retry.call(attempt)
        except S3Error as error:
            raise self._translate(error, key) from None
        except MinioException as error:
            raise StoreError(f"store {self.uri} at {self.endpoint}: {type(error).__name__}: {error}") from None
        if failure is not None:
            raise StoreUnreachableError(
                f"store {self.uri} at {self.endpoint}: unreachable after {self.retry.attempts} attempts "
                f"({failure.reason}); check MINIO_ENDPOINT"
            )
        return result  # type: ignore[return-value]

    def _translate(self, error: S3Error, key: str) -> StoreError:
        if error.code in NOT_FOUND:
            return MissingKeyError(f"{self.uri}: no such key '{key}' ({error.code})")
        if error.code in AUTH_FAILURES:
            return CredentialsError(
                f"store {self.uri} at {self.endpoint}: credentials rejected ({error.code}); "
                "check MINIO_ACCESS_KEY and MINIO_SECRET_KEY"
            )
        return StoreError(f"store {self.uri} at {self.endpoint}: {error.code} on '{key}'")

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        if not self._call(lambda: self._client.bucket_exists(self.bucket)):
            self._call(lambda: self._client.make_bucket(self.bucket))
        self._bucket_ready = True

    def put_bytes(self, key: str, data: bytes) -> None:
        """Upload bytes (multipart above the part size)."""
        name = self._name(key)
        self._ensure_bucket()
        self._call(lambda: self._client.put_object(self.bucket, name, BytesIO(data), len(data),
                                                   part_size=self.part_size), key=key)

    def get_bytes(self, key: str) -> bytes:
        """Download an object's bytes."""
        name = self._name(key)

        def read() -> bytes:
            response = self._client.get_object(self.bucket, name)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

        return self._call(read, key=key)

    def put_file(self, key: str, path: str | Path) -> None:
        """Upload a file (multipart above the part size)."""
        name = self._name(key)
        self._ensure_bucket()
        self._call(lambda: self._client.fput_object(self.bucket, name, str(path), part_size=self.part_size),
                   key=key)

    def get_file(self, key: str, path: str | Path) -> None:
        """Download an object to a file."""
        name = self._name(key)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._call(lambda: self._client.fget_object(self.bucket, name, str(path)), key=key)

    def exists(self, key: str) -> bool:
        """Whether the object exists."""
        name = self._name(key)
        try:
            self._call(lambda: self._client.stat_object(self.bucket, name), key=key)
        except MissingKeyError:
            return False
        return True

    def stat_etag(self, key: str) -> str:
        """The object's ETag (multipart uploads end in ``-<parts>``)."""
        name = self._name(key)
        return str(self._call(lambda: self._client.stat_object(self.bucket, name), key=key).etag)

    def list(self, prefix: str = "") -> list[str]:
        """Sorted keys under ``prefix`` relative to the store root."""
        full = join_key(self.prefix, prefix) + ("/" if prefix.endswith("/") else "")
        strip = len(self.prefix) + 1 if self.prefix else 0
        try:
            names = self._call(lambda: [o.object_name for o in self._client.list_objects(
                self.bucket, prefix=full, recursive=True)], key=prefix)
        except MissingKeyError:
            return []
        return sorted(name[strip:] for name in names if name)

    def delete(self, key: str) -> None:
        """Remove an object (no error when absent)."""
        name = self._name(key)
        try:
            self._call(lambda: self._client.remove_object(self.bucket, name), key=key)
        except MissingKeyError:
            return
