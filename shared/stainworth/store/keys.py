"""Store keys: the rules a key or a folder prefix follows, and joining keys."""

from __future__ import annotations

from stainworth.errors import StoreError

TEMP_SUFFIX = ".stainworth-tmp"
"""Suffix of temporary files written beside their target; never a key, never listed."""


def check_key(key: str) -> str:
    """Return ``key`` if it names an object inside the store.

    Parameters
    ----------
    key : str
        A relative POSIX path such as ``acquisitions/a1/manifest.json``.

    Returns
    -------
    str
        The key, unchanged.

    Raises
    ------
    StoreError
        When the key is empty, absolute, climbs out with ``..``, has empty or ``.`` parts
        (``a//b``, ``a/./b``, a trailing ``/``) or ends with the temporary-file suffix.
    """
    if not isinstance(key, str) or not key:
        raise StoreError(f"store key {key!r}: expected a relative path like 'acquisitions/a1/x'")
    if key.startswith("/"):
        raise StoreError(f"store key '{key}': expected a relative path, not one starting with '/'")
    parts = key.split("/")
    if ".." in parts:
        raise StoreError(f"store key '{key}': expected a relative path without '..'")
    if "" in parts or "." in parts:
        raise StoreError(f"store key '{key}': expected a relative path without empty or '.' parts")
    if key.endswith(TEMP_SUFFIX):
        raise StoreError(f"store key '{key}': the suffix '{TEMP_SUFFIX}' is reserved")
    return key


def check_prefix(prefix: str) -> str:
    """Normalise a listing or folder prefix: trailing slashes dropped, ``""`` is the root.

    Parameters
    ----------
    prefix : str
        ``""``, ``"acquisitions"`` or ``"acquisitions/"`` (all but the first mean the same).

    Returns
    -------
    str
        The prefix without trailing ``/``; ``""`` for the store root.

    Raises
    ------
    StoreError
        When the prefix, without its trailing slashes, is not a valid key.
    """
    if not isinstance(prefix, str):
        raise StoreError(f"store prefix {prefix!r}: expected a relative path or ''")
    stripped = prefix.rstrip("/")
    return check_key(stripped) if stripped else ""


def join_key(*parts: str) -> str:
    """Join key parts with ``/``, skipping empty parts and surplus slashes."""
    return "/".join(part.strip("/") for part in parts if part.strip("/"))


def relative_key(key: str, prefix: str) -> str:
    """``key`` relative to the folder ``prefix`` (which must contain it)."""
    return key[len(prefix) + 1 :] if prefix else key
