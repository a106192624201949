"""``file://`` store: a folder on the local disk, written atomically.

Every write goes to a temporary file in the target's folder, is fsynced and then renamed over
the target, so a reader sees the old object or the complete new one, never a part.
"""

from __future__ import annotations

import builtins
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from stainworth.errors import MissingKeyError, StoreError
from stainworth.store.base import Store
from stainworth.store.keys import TEMP_SUFFIX, check_key, check_prefix
from stainworth.store.local_files import atomic_local_file


def _fsync_folder(folder: Path) -> None:
    """Persist a rename in ``folder`` (best effort where folders cannot be opened)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _is_object(path: Path) -> bool:
    """Whether ``path`` is a stored object (a file that is not an unfinished write)."""
    return path.is_file() and not path.name.endswith(TEMP_SUFFIX)


class FileStore(Store):
    """A store rooted at a local folder (created on first write).

    Parameters
    ----------
    root : str or Path
        The folder; made absolute.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()

    def __repr__(self) -> str:
        return f"FileStore({self.uri!r})"

    @property
    def uri(self) -> str:
        """``file://`` URI of the root folder (``file:///abs/path``)."""
        return f"file://{self.root}"

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _missing(self, key: str) -> MissingKeyError:
        return MissingKeyError(f"{self.uri}: no such key '{key}'")

    def _write(self, key: str, source: bytes | Path) -> None:
        target = self._path(key)
        try:
            with atomic_local_file(target) as stream:
                if isinstance(source, bytes):
                    stream.write(source)
                else:
                    with open(source, "rb") as data:
                        shutil.copyfileobj(data, stream)
        except OSError as error:
            reason = error.strerror or str(error)
            raise StoreError(f"{self.uri}: cannot write key '{key}' ({reason})") from None
        _fsync_folder(target.parent)

    def put_bytes(self, key: str, data: bytes) -> None:
        """Write bytes atomically (temporary file, fsync, rename)."""
        self._write(key, bytes(data))

    def get_bytes(self, key: str) -> bytes:
        """Read the bytes at ``key``; :class:`MissingKeyError` when absent."""
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise self._missing(key) from None
        except OSError as error:
            raise StoreError(f"{self.uri}: cannot read key '{key}' ({error.strerror})") from None

    def put_file(self, key: str, path: str | Path) -> None:
        """Copy the local file ``path`` in atomically."""
        source = Path(path)
        if not source.is_file():
            raise StoreError(f"{source}: no such file to store as '{key}'")
        self._write(key, source)

    def get_file(self, key: str, path: str | Path) -> None:
        """Copy the object at ``key`` to the local file ``path``, atomically."""
        source = self._path(key)
        if not _is_object(source):
            raise self._missing(key)
        try:
            with open(source, "rb") as data, atomic_local_file(path) as stream:
                shutil.copyfileobj(data, stream)
        except FileNotFoundError:
            raise self._missing(key) from None
        except OSError as error:
            reason = error.strerror or str(error)
            raise StoreError(f"{self.uri}: cannot copy key '{key}' to {path} ({reason})") from None

    def exists(self, key: str) -> bool:
        """Whether an object exists at ``key``."""
        return _is_object(self._path(key))

    def list(self, prefix: str = "", recursive: bool = True) -> builtins.list[str]:
        """Sorted keys inside the folder ``prefix`` (see :meth:`Store.list`)."""
        folder = self.root / check_prefix(prefix)
        if not folder.is_dir():
            return []
        if recursive:
            keys = [self._key(path) for path in folder.rglob("*") if _is_object(path)]
        else:
            keys = [self._child(path) for path in folder.iterdir() if self._has_objects(path)]
        return sorted(keys)

    def _key(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def _child(self, path: Path) -> str:
        return self._key(path) + ("/" if path.is_dir() else "")

    def _has_objects(self, path: Path) -> bool:
        """Whether ``path`` is an object or a folder holding at least one (as S3 would list)."""
        if path.is_dir():
            return any(_is_object(inner) for inner in path.rglob("*"))
        return _is_object(path)

    def delete(self, key: str) -> None:
        """Remove the object at ``key`` (no error when absent) and prune emptied folders."""
        path = self._path(key)
        try:
            path.unlink(missing_ok=True)
        except IsADirectoryError:
            return
        except OSError as error:
            raise StoreError(f"{self.uri}: cannot delete key '{key}' ({error.strerror})") from None
        self._prune(path.parent)

    def _prune(self, folder: Path) -> None:
        """Remove empty folders from ``folder`` up to (not including) the root."""
        for parent in self._parents_below_root(folder):
            try:
                parent.rmdir()
            except OSError:
                return

    def _parents_below_root(self, folder: Path) -> Iterator[Path]:
        while folder != self.root and self.root in folder.parents:
            yield folder
            folder = folder.parent
