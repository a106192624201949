"""The ``ingest`` stage: a lab's own files → an acquisition in the store."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from stainworth.contracts.base import config_hash
from stainworth.contracts.manifest import OutputManifest, write_manifest
from stainworth.contracts.prepare import SourceConfig
from stainworth.errors import ConfigError
from stainworth.ingest import ingest_acquisition
from stainworth.progress import Progress
from stainworth.store import open_store


def ingest_to_store(config: SourceConfig, output_dir: str | Path, *, store_uri: str | None = None) -> OutputManifest:
    """Ingest ``config.ingest_spec`` and publish it under ``<store_prefix>/<acquisition_id>``.

    The output folder records which acquisition was published and its content hash.
    """
    if not config.ingest_spec:
        raise ConfigError("prepare source: ingest_spec is not set; nothing to ingest")
    store = open_store(store_uri or None)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    progress = Progress("ingest", 1)
    with tempfile.TemporaryDirectory(prefix="stainworth-ingest-") as scratch:
        folder = Path(scratch) / "acquisition"
        acquisition = ingest_acquisition(config.ingest_spec, folder, progress=progress.note)
        key = f"{config.store_prefix}/{acquisition.acquisition_id}"
        store.publish_dir(folder, key)
        shutil.copy(folder / "manifest.json", out / "acquisition.json")
    progress.step(f"{acquisition.acquisition_id}: {len(acquisition.tiles)} tile(s) -> {store.uri}/{key}")
    manifest = OutputManifest(
        stage="ingest", config=config.model_dump(mode="json"), config_hash=config_hash(config),
        input_hashes=acquisition.input_hashes, counts={"acquisitions": 1, "tiles": len(acquisition.tiles)},
        paths={"acquisition": ["acquisition.json"]},
    )
    return write_manifest(manifest, out)


def ingest_if_requested(
    config: SourceConfig, output_dir: str | Path, *, store_uri: str | None = None
) -> OutputManifest:
    """Ingest when ``config.ingest_spec`` is set; otherwise record that there was nothing to ingest."""
    if config.ingest_spec:
        return ingest_to_store(config, output_dir, store_uri=store_uri)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    manifest = OutputManifest(stage="ingest", config=config.model_dump(mode="json"), config_hash=config_hash(config),
                              counts={"acquisitions": 0, "tiles": 0})
    return write_manifest(manifest, out)
