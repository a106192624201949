"""The local side of a store: atomic file writes, the files an output folder publishes, folder moves."""

from __future__ import annotations

import builtins
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from stainworth.contracts.manifest import MANIFEST_NAME
from stainworth.errors import StoreError
from stainworth.store.keys import TEMP_SUFFIX

LEFTOVER_SUFFIX = ".tmp"
"""Local files ending like this are unfinished atomic writes and are not published."""


@contextmanager
def atomic_local_file(target: str | Path) -> Iterator[BinaryIO]:
    """Write a local file so that readers see the old file or the complete new one.

    The content goes to a temporary file in the target's folder; on success it is flushed,
    fsynced and renamed over the target. On any error the temporary file is removed and the
    target is untouched.

    Parameters
    ----------
    target : str or Path
        The file to (re)write; its folder is created if needed.

    Yields
    ------
    BinaryIO
        The open temporary file to write into.
    """
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent
    )
    try:
        with os.fdopen(handle, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def output_files(local_dir: Path) -> builtins.list[Path]:
    """Files of an output folder to publish: data files sorted, ``manifest.json`` last.

    Parameters
    ----------
    local_dir : Path
        A complete output folder.

    Returns
    -------
    list of Path
        Every regular file under ``local_dir`` except leftovers of unfinished writes
        (``*.tmp``), with the top-level manifest at the end.

    Raises
    ------
    StoreError
        When ``local_dir`` is not a folder or has no ``manifest.json``.
    """
    if not local_dir.is_dir():
        raise StoreError(f"{local_dir}: no such folder to publish")
    manifest = local_dir / MANIFEST_NAME
    if not manifest.is_file():
        raise StoreError(f"{local_dir} is incomplete: no {MANIFEST_NAME}; refusing to publish it")
    data = sorted(
        path
        for path in local_dir.rglob("*")
        if path.is_file() and path != manifest and not path.name.endswith(LEFTOVER_SUFFIX)
    )
    return [*data, manifest]


def is_vacant(target: Path) -> bool:
    """Whether ``target`` is absent or an empty folder (free to be replaced by a rename)."""
    return not target.exists() or (target.is_dir() and not any(target.iterdir()))


def refuse_occupied(target: Path) -> None:
    """Raise :class:`StoreError` when ``target`` exists and is not an empty folder."""
    if not is_vacant(target):
        raise StoreError(
            f"{target}: destination exists and is not empty; pass replace=True to swap it"
        )


def move_into_place(scratch: Path, target: Path, *, replace: bool) -> None:
    """Rename the finished folder ``scratch`` to ``target``.

    An absent or empty ``target`` is simply replaced. A non-empty one is swapped out (renamed
    aside, then removed) when ``replace`` is true, else refused.

    Raises
    ------
    StoreError
        When ``target`` is occupied and ``replace`` is false.
    """
    if not replace:
        refuse_occupied(target)
    if is_vacant(target):
        if target.exists():
            target.rmdir()
        scratch.rename(target)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    aside.rmdir()
    target.rename(aside)
    scratch.rename(target)
    if aside.is_dir():
        shutil.rmtree(aside, ignore_errors=True)
    else:
        aside.unlink(missing_ok=True)
