"""``file://`` store: a folder on the local disk, written atomically."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from stainworth.errors import MissingKeyError, StoreError
from stainworth.store.base import Store, check_key


class FileStore(Store):
    """A store rooted at a local folder (created on first write)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    def __repr__(self) -> str:
        return f"FileStore({self.uri!r})"

    @property
    def uri(self) -> str:
        """``file://`` URI of the root folder."""
        return f"file://{self.root}"

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _atomic_write(self, target: Path, write) -> None:  # noqa: ANN001
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        except OSError as error:
            raise StoreError(f"{self.uri}: cannot write '{target}' ({error.strerror})") from None
        try:
            with os.fdopen(handle, "wb") as stream:
                write(stream)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def put_bytes(self, key: str, data: bytes) -> None:
        """Write bytes atomically (temporary file, fsync, rename)."""
        self._atomic_write(self._path(key), lambda stream: stream.write(data))

    def get_bytes(self, key: str) -> bytes:
        """Read bytes; :class:`MissingKeyError` when absent."""
        path = self._path(key)
        if not path.is_file():
            raise MissingKeyError(f"{self.uri}: no such key '{key}'")
        return path.read_bytes()

    def put_file(self, key: str, path: str | Path) -> None:
        """Copy a local file in atomically."""
        with open(path, "rb") as source:
            self._atomic_write(self._path(key), lambda stream: shutil.copyfileobj(source, stream))

    def get_file(self, key: str, path: str | Path) -> None:
        """Copy the object at ``key`` to a local file."""
        source = self._path(key)
        if not source.is_file():
            raise MissingKeyError(f"{self.uri}: no such key '{key}'")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, path)

    def exists(self, key: str) -> bool:
        """Whether a file exists at ``key``."""
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> list[str]:
        """Sorted keys starting with ``prefix`` (temporary files excluded)."""
        if not self.root.is_dir():
            return []
        base = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if not base.is_dir():
            return []
        keys = (p.relative_to(self.root).as_posix() for p in base.rglob("*") if p.is_file())
        return sorted(k for k in keys if k.startswith(prefix) and not k.endswith(".tmp"))

    def delete(self, key: str) -> None:
        """Remove a file (no error when absent)."""
        self._path(key).unlink(missing_ok=True)
