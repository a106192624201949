"""The store interface: the primitives each store implements, and folder publishing built once on them.

Keys are relative POSIX paths (``acquisitions/a1/manifest.json``, rules in
:mod:`stainworth.store.keys`) under the store's root (a local folder or a bucket prefix). A
folder published with :meth:`Store.publish_dir` is complete only when its ``manifest.json``
exists, and the manifest is always uploaded last.
"""

from __future__ import annotations

import builtins
import json
import shutil
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from stainworth.contracts.manifest import MANIFEST_NAME
from stainworth.errors import MissingKeyError, StoreError
from stainworth.store.keys import check_key, check_prefix, join_key, relative_key
from stainworth.store.local_files import move_into_place, output_files, refuse_occupied


class Store(ABC):
    """A place for stainworth's own data: a folder (``file://``) or a bucket prefix (``s3://``).

    Subclasses implement the primitives (``put_bytes`` ... ``delete``); the folder helpers
    (:meth:`publish_dir`, :meth:`fetch_dir`, :meth:`is_complete`) and the JSON conveniences
    are implemented here once, on top of them.
    """

    @property
    @abstractmethod
    def uri(self) -> str:
        """The store's URI (``file:///abs/path`` or ``s3://bucket/prefix``), never a secret."""

    @abstractmethod
    def put_bytes(self, key: str, data: bytes) -> None:
        """Write ``data`` at ``key``, replacing any object there; readers never see a part."""

    @abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """Read the object at ``key``; :class:`MissingKeyError` when there is none."""

    @abstractmethod
    def put_file(self, key: str, path: str | Path) -> None:
        """Upload the local file ``path`` to ``key``, replacing any object there."""

    @abstractmethod
    def get_file(self, key: str, path: str | Path) -> None:
        """Download ``key`` to the local file ``path`` (written atomically, folders created)."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an object exists at ``key``."""

    @abstractmethod
    def list(self, prefix: str = "", recursive: bool = True) -> builtins.list[str]:
        """Sorted keys inside the folder ``prefix``, relative to the store root.

        Parameters
        ----------
        prefix : str
            A folder: ``"acq"`` and ``"acq/"`` both list ``acq/...`` but not ``acq10/...``;
            ``""`` lists the whole store.
        recursive : bool
            True: every object below ``prefix``. False: only its direct children, objects as
            keys and sub-folders as keys ending in ``/``.

        Returns
        -------
        list of str
            Sorted keys; empty when nothing is there.
        """

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object at ``key``; no error when it is absent."""

    def probe(self) -> None:
        """Reach the store once; raise one clear :class:`StoreError` when it cannot be used."""
        self.exists(MANIFEST_NAME)

    def read_json(self, key: str) -> Any:
        """Read the object at ``key`` and parse it as JSON.

        Raises
        ------
        MissingKeyError
            When there is no such key.
        StoreError
            When the object is not valid JSON.
        """
        data = self.get_bytes(key)
        try:
            return json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            reason = (
                f"{error.msg} at line {error.lineno}"
                if isinstance(error, json.JSONDecodeError)
                else "not UTF-8"
            )
            raise StoreError(f"{self.uri}: key '{key}' is not valid JSON ({reason})") from None

    def write_json(self, key: str, value: Any) -> None:
        """Write ``value`` at ``key`` as indented JSON with sorted keys.

        Raises
        ------
        StoreError
            When ``value`` cannot be represented as JSON.
        """
        try:
            text = json.dumps(value, indent=2, sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise StoreError(f"{self.uri}: cannot write key '{key}' as JSON ({error})") from None
        self.put_bytes(key, text.encode())

    def is_complete(self, prefix: str) -> bool:
        """Whether the folder ``prefix`` is a complete output (its manifest exists)."""
        return self.exists(join_key(check_prefix(prefix), MANIFEST_NAME))

    def complete_folders(self, prefix: str) -> builtins.list[str]:
        """Names of the complete folders directly inside ``prefix`` (each with its manifest), sorted."""
        folder = check_prefix(prefix)
        depth = folder.count("/") + 2 if folder else 1
        return sorted({key.split("/")[-2] for key in self.list(folder)
                       if key.endswith("/" + MANIFEST_NAME) and key.count("/") == depth})

    def publish_dir(self, local_dir: str | Path, prefix: str) -> builtins.list[str]:
        """Upload a complete output folder under ``prefix``: data first, manifest last.

        An existing manifest under ``prefix`` is removed first (so the folder reads as
        incomplete while it changes) and objects the new folder does not contain are removed
        before the new manifest is written.

        Parameters
        ----------
        local_dir : str or Path
            Folder with a top-level ``manifest.json``; ``*.tmp`` leftovers are skipped.
        prefix : str
            Folder key to publish under (not the store root).

        Returns
        -------
        list of str
            The keys written, in upload order (the manifest last).

        Raises
        ------
        StoreError
            When ``local_dir`` has no ``manifest.json`` or ``prefix`` is not a valid key.
        """
        root = Path(local_dir)
        files = output_files(root)
        folder = check_key(prefix.rstrip("/"))
        keys = [join_key(folder, path.relative_to(root).as_posix()) for path in files]
        manifest_key = keys[-1]
        self.delete(manifest_key)
        for key, path in zip(keys[:-1], files[:-1], strict=True):
            self.put_file(key, path)
        for stale in sorted(set(self.list(folder)) - set(keys)):
            self.delete(stale)
        self.put_file(manifest_key, files[-1])
        return keys

    def fetch_dir(self, prefix: str, local_dir: str | Path, *, replace: bool = False) -> Path:
        """Download the complete output under ``prefix`` into the folder ``local_dir``.

        Files land in a temporary folder beside ``local_dir`` that is renamed into place at
        the end, so a reader never sees half a folder and a failed fetch leaves nothing
        behind. The manifest is read before and after the data; if it changed meanwhile (a
        concurrent re-publish) the fetch is refused.

        Parameters
        ----------
        prefix : str
            Folder key of a published output.
        local_dir : str or Path
            Destination folder; it must be absent or empty unless ``replace`` is true.
        replace : bool
            Swap out a non-empty ``local_dir`` instead of refusing.

        Returns
        -------
        Path
            ``local_dir``.

        Raises
        ------
        MissingKeyError
            When ``prefix`` has no manifest (the output is missing or incomplete).
        StoreError
            When the destination is not empty, or the output changed during the fetch.
        """
        folder = check_key(prefix.rstrip("/"))
        manifest_key = join_key(folder, MANIFEST_NAME)
        manifest = self._read_manifest(folder)
        target = Path(local_dir)
        if not replace:
            refuse_occupied(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.fetch-", dir=target.parent))
        try:
            for key in self.list(folder):
                if key != manifest_key:
                    self.get_file(key, scratch / relative_key(key, folder))
            if self._read_manifest(folder) != manifest:
                raise StoreError(
                    f"{self.uri}: '{folder}' changed while it was fetched; fetch it again"
                )
            (scratch / MANIFEST_NAME).write_bytes(manifest)
            move_into_place(scratch, target, replace=replace)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return target

    def _read_manifest(self, folder: str) -> bytes:
        """The manifest bytes of a complete output; :class:`MissingKeyError` when absent."""
        try:
            return self.get_bytes(join_key(folder, MANIFEST_NAME))
        except MissingKeyError:
            raise MissingKeyError(
                f"{self.uri}: '{folder}' is missing or incomplete (no {MANIFEST_NAME})"
            ) from None
