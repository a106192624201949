"""Prepared fields kept in the store, so a field stitched, registered or labelled once is fetched, not redone.

Each field a stage writes (``<output>/fields/<id>/``) is published under
``prepared/<stage>/<id>-<lineage>/`` with a manifest holding its :class:`FieldInfo`. The lineage is a
hash of everything that made the field: the acquisition's content and the configuration of every
prepare stage up to this one. A later run over the same acquisition with the same settings
(a retraining after new acquisitions arrived, a second pipeline on the same data) finds the
published field and copies it instead of recomputing it; any change upstream changes the lineage.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from stainworth.contracts.base import canonical_json
from stainworth.contracts.fields import FieldInfo
from stainworth.contracts.manifest import OutputManifest, read_manifest, write_manifest
from stainworth.prepared.fields import FIELDS
from stainworth.store import Store

PREFIX = "prepared"
FIELD = "field"
"""The field's folder inside a published entry."""


class FieldManifest(OutputManifest):
    """A published prepared field: its folder (``field/``) beside this manifest."""

    field: FieldInfo


def lineage(stage: str, config_hash: str, upstream: str) -> str:
    """Hash of a field after ``stage`` run with ``config_hash`` on ``upstream``.

    ``upstream`` is the acquisition's content hash for ``stitch``, else the previous stage's lineage.
    """
    text = canonical_json({"stage": stage, "config": config_hash, "upstream": upstream})
    return hashlib.sha256(text.encode()).hexdigest()


class FieldCache:
    """One prepare stage's published fields in ``store``.

    Parameters
    ----------
    store
        Where the fields are published.
    stage
        ``stitch``, ``register`` or ``label``.
    config_hash
        The stage configuration's hash (part of every lineage).
    """

    def __init__(self, store: Store, stage: str, config_hash: str) -> None:
        self.store, self.stage, self.config_hash = store, stage, config_hash

    def lineage(self, upstream: str) -> str:
        """The lineage, after this stage, of a field whose upstream is ``upstream``."""
        return lineage(self.stage, self.config_hash, upstream)

    def key(self, field_id: str, digest: str) -> str:
        """Store folder of a field with lineage ``digest``."""
        return f"{PREFIX}/{self.stage}/{field_id}-{digest[:16]}"

    def restore(self, field_id: str, digest: str, out_root: Path) -> FieldInfo | None:
        """Copy the published field into ``out_root/fields/<id>/``; None when it was never published."""
        key = self.key(field_id, digest)
        if not self.store.is_complete(key):
            return None
        with tempfile.TemporaryDirectory(prefix="stainworth-field-") as scratch:
            fetched = self.store.fetch_dir(key, Path(scratch) / "entry")
            manifest = read_manifest(FieldManifest, fetched)
            target = Path(out_root) / FIELDS / field_id
            if target.exists():
                shutil.rmtree(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(fetched / FIELD), target)
        return manifest.field

    def keep(self, field: FieldInfo, out_root: Path) -> None:
        """Publish ``out_root/fields/<id>/`` with ``field`` (whose ``lineage`` is set) as its manifest."""
        with tempfile.TemporaryDirectory(prefix="stainworth-field-") as scratch:
            entry = Path(scratch) / "entry"
            shutil.copytree(Path(out_root) / FIELDS / field.acquisition_id, entry / FIELD)
            write_manifest(FieldManifest(stage=self.stage, config={}, config_hash=self.config_hash,
                                         input_hashes={"lineage": field.lineage}, field=field), entry)
            self.store.publish_dir(entry, self.key(field.acquisition_id, field.lineage))


def reuse_or_make(cache: FieldCache | None, field_id: str, upstream: str, out_root: Path,
                  make: Callable[[], FieldInfo]) -> tuple[FieldInfo, bool]:
    """The field from ``cache`` when published with this lineage, else ``make()``'s, then published.

    Without a cache or an upstream lineage (fields from outside the store) the field is made and
    not published, its ``lineage`` empty. Returns the field and whether it was reused.
    """
    if cache is None or not upstream:
        return make().model_copy(update={"lineage": ""}), False
    digest = cache.lineage(upstream)
    if (restored := cache.restore(field_id, digest, out_root)) is not None:
        return restored, True
    made = make().model_copy(update={"lineage": digest})
    cache.keep(made, out_root)
    return made, False
