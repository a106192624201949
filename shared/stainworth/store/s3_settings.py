"""Where an ``s3://`` store lives: bucket names, ``s3://bucket/prefix`` URIs and the ``MINIO_*`` settings."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from stainworth.errors import CredentialsError, StoreError
from stainworth.store.keys import check_prefix

BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"", "0", "false", "no", "off"})


def check_bucket(bucket: str, where: str) -> str:
    """Return ``bucket`` if it is a valid S3 bucket name, else raise :class:`StoreError`.

    Parameters
    ----------
    bucket : str
        The bucket name.
    where : str
        What the name came from (a URI), for the message.
    """
    if not BUCKET_NAME.match(bucket) or ".." in bucket:
        raise StoreError(
            f"{where}: bucket '{bucket}' is not a valid S3 bucket name "
            "(3-63 lowercase letters, digits, '.' or '-')"
        )
    return bucket


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """Split ``s3://bucket/prefix`` into the bucket and the (possibly empty) prefix.

    Raises
    ------
    StoreError
        When the bucket name or the prefix is invalid.
    """
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    check_bucket(bucket, f"store URI '{uri}'")
    try:
        return bucket, check_prefix(prefix)
    except StoreError:
        raise StoreError(
            f"store URI '{uri}': prefix '{prefix}' must be a relative path "
            "without '..' or empty parts"
        ) from None


@dataclass(frozen=True)
class S3Settings:
    """Where the S3 server is and how to sign requests; the secret is kept out of ``repr``.

    Parameters
    ----------
    endpoint : str
        ``host:port`` without a scheme.
    access_key : str
        Access key id.
    secret_key : str
        Secret access key (never shown).
    secure : bool
        Use HTTPS.
    region : str or None
        Region to sign for; None asks the server per bucket.
    """

    endpoint: str
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    secure: bool = False
    region: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> S3Settings:
        """Read the ``MINIO_*`` variables (default: the process environment).

        Raises
        ------
        CredentialsError
            When ``MINIO_ENDPOINT``, ``MINIO_ACCESS_KEY`` or ``MINIO_SECRET_KEY`` is missing
            (all missing ones are named), or ``MINIO_SECURE`` is not a boolean word.
        """
        env = os.environ if env is None else env
        names = ("MINIO_ENDPOINT", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY")
        missing = [name for name in names if not env.get(name, "").strip()]
        if missing:
            raise CredentialsError(
                f"s3 store: {', '.join(missing)} not set; expected MINIO_ENDPOINT=host:port "
                "and the access and secret keys of the store's user"
            )
        endpoint, secure = _endpoint_and_security(
            env["MINIO_ENDPOINT"], env.get("MINIO_SECURE", "")
        )
        return cls(
            endpoint=endpoint,
            access_key=env["MINIO_ACCESS_KEY"].strip(),
            secret_key=env["MINIO_SECRET_KEY"].strip(),
            secure=secure,
            region=env.get("MINIO_REGION", "").strip() or None,
        )


def _endpoint_and_security(raw_endpoint: str, raw_secure: str) -> tuple[str, bool]:
    """``(host:port, secure)`` from ``MINIO_ENDPOINT`` (a scheme wins) and ``MINIO_SECURE``."""
    word = raw_secure.strip().lower()
    if word not in TRUE_WORDS | FALSE_WORDS:
        raise CredentialsError(f"MINIO_SECURE '{raw_secure}': expected true or false")
    raw = raw_endpoint.strip()
    secure = word in TRUE_WORDS
    for scheme, scheme_secure in (("https://", True), ("http://", False)):
        if raw.lower().startswith(scheme):
            raw, secure = raw[len(scheme) :], scheme_secure
    host = raw.rstrip("/")
    if "@" in host:
        raise CredentialsError(
            "MINIO_ENDPOINT: expected host:port without user or password in it; "
            "put the keys in MINIO_ACCESS_KEY and MINIO_SECRET_KEY"
        )
    if not host or "/" in host:
        raise CredentialsError(
            f"MINIO_ENDPOINT '{host}': expected host:port or http(s)://host:port without a path"
        )
    return host, secure
