"""stainworth's own data store: ``file://`` folders and ``s3://`` buckets behind one interface.

Acquisitions, the model registry and the retraining ledger live here (KFP keeps its own
artifacts elsewhere). :func:`open_store` picks the implementation from the URI.
"""

from __future__ import annotations

import os
from pathlib import Path

from stainworth.errors import StoreError
from stainworth.store.base import Store
from stainworth.store.local import FileStore
from stainworth.store.retry import RetryPolicy
from stainworth.store.s3 import S3Store

__all__ = ["FileStore", "RetryPolicy", "S3Store", "Store", "default_store_uri", "open_store"]


def default_store_uri() -> str:
    """``STAINWORTH_STORE`` if set and not empty, else ``file://<cwd>/runs/store``."""
    configured = os.environ.get("STAINWORTH_STORE", "").strip()
    return configured or f"file://{Path.cwd() / 'runs' / 'store'}"


def open_store(uri: str | None = None) -> Store:
    """Open the store at ``uri``.

    Parameters
    ----------
    uri : str or None
        ``file:///abs/path``; ``file://relative/path`` (resolved against the working
        directory); ``s3://bucket/prefix`` (configured from the ``MINIO_*`` environment
        variables); None for :func:`default_store_uri`.

    Returns
    -------
    Store
        A :class:`FileStore` or an :class:`S3Store`.

    Raises
    ------
    StoreError
        When the URI has no or an unsupported scheme, no path, or an invalid bucket name.
    CredentialsError
        When an ``s3://`` store's endpoint or credentials are not set.
    """
    uri = default_store_uri() if uri is None else uri.strip()
    scheme, separator, rest = uri.partition("://")
    if not separator:
        raise StoreError(f"store URI '{uri}': no scheme; expected file:///path or s3://bucket/prefix")
    if scheme == "file":
        if not rest:
            raise StoreError(f"store URI '{uri}': no folder given; expected file:///path")
        return FileStore(Path(rest))
    if scheme == "s3":
        return S3Store.from_uri(uri)
    raise StoreError(
        f"store URI '{uri}': unsupported scheme '{scheme}'; expected file:// or s3://bucket/prefix"
    )
