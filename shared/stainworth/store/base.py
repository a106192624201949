"""The store interface, and directory publishing built once on top of its primitives."""

from __future__ import annotations

import builtins
import json
import shutil
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path, PurePosixPath
from typing import Any

from stainworth.contracts.manifest import MANIFEST_NAME
from stainworth.errors import MissingKeyError, StoreError


def check_key(key: str) -> str:
    """Return ``key`` if it is a relative POSIX key inside the store, else raise StoreError."""
    path = PurePosixPath(key)
    if not key or key.startswith("/") or ".." in path.parts or key.endswith("/"):
        raise StoreError(f"store key '{key}': expected a relative path like 'acquisitions/a1/manifest.json'")
    return key


def join_key(*parts: str) -> str:
    """Join key parts with '/' ignoring empty parts and duplicate slashes."""
    return "/".join(part.strip("/") for part in parts if part.strip("/"))


class Store(ABC):
    """A place for stainworth's own data: a folder (``file://``) or a bucket prefix (``s3://``)."""

    @property
    @abstractmethod
    def uri(self) -> str:
        """The store's URI (never contains credentials)."""

    @abstractmethod
    def put_bytes(self, key: str, data: bytes) -> None:
        """Write ``data`` at ``key`` (replacing what was there), atomically for readers."""

    @abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """Read the object at ``key``; :class:`MissingKeyError` when absent."""

    @abstractmethod
    def put_file(self, key: str, path: str | Path) -> None:
        """Upload a local file to ``key``."""

    @abstractmethod
    def get_file(self, key: str, path: str | Path) -> None:
        """Download ``key`` to a local file."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an object exists at ``key``."""

    @abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """Sorted keys under ``prefix`` (recursive), relative to the store root."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object at ``key`` (no error when absent)."""

    def probe(self) -> None:
        """Reach the store once; raise one clear :class:`StoreError` when it cannot be used."""
        self.exists(MANIFEST_NAME)

    def read_json(self, key: str) -> Any:
        """Read and parse a JSON object."""
        data = self.get_bytes(key)
        try:
            return json.loads(data)
        except json.JSONDecodeError as error:
            raise StoreError(f"{self.uri}: key '{key}' is not valid JSON ({error.msg})") from None

    def write_json(self, key: str, value: Any) -> None:
        """Write ``value`` as indented JSON."""
        self.put_bytes(key, json.dumps(value, indent=2, sort_keys=True).encode())

    def is_complete(self, prefix: str) -> bool:
        """Whether the output under ``prefix`` has its manifest (is complete)."""
        return self.exists(join_key(prefix, MANIFEST_NAME))

    def publish_dir(self, local_dir: str | Path, prefix: str) -> builtins.list[str]:
        """Upload a complete output folder under ``prefix``: data first, manifest last.

        Returns the keys written, in upload order.
        """
        root = Path(local_dir)
        if not (root / MANIFEST_NAME).is_file():
            raise StoreError(f"{root} is incomplete: no {MANIFEST_NAME}; refusing to publish it")
        check_key(prefix)
        files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != MANIFEST_NAME)
        written = []
        for path in [*files, root / MANIFEST_NAME]:
            key = join_key(prefix, path.relative_to(root).as_posix())
            self.put_file(key, path)
            written.append(key)
        return written

    def fetch_dir(self, prefix: str, local_dir: str | Path) -> Path:
        """Download the complete output under ``prefix`` into ``local_dir``.

        Refuses (:class:`MissingKeyError`) when the manifest is absent. Files land in a temporary
        folder beside ``local_dir`` that is renamed into place at the end, so a reader never sees
        half a folder and a failed fetch leaves nothing behind.
        """
        check_key(prefix)
        if not self.is_complete(prefix):
            raise MissingKeyError(f"{self.uri}: '{prefix}' is missing or incomplete (no {MANIFEST_NAME})")
        target = Path(local_dir)
        if target.exists() and any(target.iterdir()):
            raise StoreError(f"{target}: destination exists and is not empty")
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            for key in self.list(prefix + "/"):
                destination = scratch / PurePosixPath(key).relative_to(prefix)
                destination.parent.mkdir(parents=True, exist_ok=True)
                self.get_file(key, destination)
            if target.exists():
                target.rmdir()
            scratch.rename(target)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return target
