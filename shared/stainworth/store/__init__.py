"""stainworth's own data store: ``file://`` folders and ``s3://`` buckets, one interface."""

from __future__ import annotations

import os
import re
from pathlib import Path

from stainworth.errors import StoreError
from stainworth.store.base import Store
from stainworth.store.local import FileStore
from stainworth.store.s3 import S3Store

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")

__all__ = ["FileStore", "S3Store", "Store", "open_store", "default_store_uri"]


def default_store_uri() -> str:
    """``STAINWORTH_STORE`` if set, else ``file://<cwd>/runs/store``."""
    return os.environ.get("STAINWORTH_STORE") or f"file://{Path.cwd() / 'runs' / 'store'}"


def open_store(uri: str | None = None) -> Store:
    """Open the store at ``uri`` (None: :func:`default_store_uri`).

    ``file:///abs/path`` and ``file://relative/path`` (relative to the working directory) open a
    :class:`FileStore`; ``s3://bucket/prefix`` an :class:`S3Store` configured from the
    environment.
    """
    uri = uri or default_store_uri()
    scheme, sep, rest = uri.partition("://")
    if not sep:
        raise StoreError(f"store URI '{uri}': expected file:///path or s3://bucket/prefix")
    if scheme == "file":
        if not rest:
            raise StoreError(f"store URI '{uri}': no folder given")
        return FileStore(Path(rest).expanduser().resolve())
    if scheme == "s3":
        bucket, _, prefix = rest.partition("/")
        if not _BUCKET.match(bucket):
            raise StoreError(f"store URI '{uri}': bucket '{bucket}' is not a valid S3 bucket name "
                             "(3-63 lowercase letters, digits, '.' or '-')")
        return S3Store(bucket, prefix)
    raise StoreError(f"store URI '{uri}': unsupported scheme '{scheme}'; expected file:// or s3://bucket/prefix")
