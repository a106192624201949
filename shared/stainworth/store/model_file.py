"""Model and weights files named by a URI: a local path, a ``file://`` path or an object in an ``s3://`` store."""

from __future__ import annotations

from pathlib import Path

from stainworth.errors import InputDataError
from stainworth.store import open_store


def fetch_model_file(uri: str, scratch: Path, *, field: str) -> Path:
    """A local path for ``uri``: a plain path, ``file://`` path, or ``s3://bucket/key`` (downloaded).

    ``field`` names the profile field the URI came from, for the one-line error.
    """
    if uri.startswith("s3://"):
        bucket_key = uri[len("s3://"):]
        if "/" not in bucket_key:
            raise InputDataError(f"{field} '{uri}': expected s3://bucket/key/of/model")
        folder, _, name = bucket_key.rpartition("/")
        target = scratch / name
        open_store(f"s3://{folder}").get_file(name, target)
        return target
    path = Path(uri[len("file://"):] if uri.startswith("file://") else uri)
    if not path.is_file():
        raise InputDataError(f"{field}: {path} does not exist")
    return path
