"""The ``ingest`` stage: a lab's own files → an acquisition in the store."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from stainworth.contracts.base import config_hash
from stainworth.contracts.manifest import OutputManifest, write_manifest
from stainworth.contracts.prepare import SourceConfig
from stainworth.contracts.simulate import SimulateConfig
from stainworth.errors import ConfigError
from stainworth.fields import ACQUIRED
from stainworth.ingest import ingest_acquisition
from stainworth.phantom.publish import simulate_acquisitions
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


def acquire(config: SourceConfig, simulate: SimulateConfig, output_dir: str | Path, *,
            store_uri: str | None = None) -> OutputManifest:
    """First step of ``prepare``: ingest a lab's files, or render phantom acquisitions, or neither.

    The output lists the acquisitions it published (``acquisitions.json``), which ``stitch`` then
    uses; with neither, ``stitch`` takes what is already in the store.
    """
    out = Path(output_dir)
    if config.ingest_spec:
        manifest = ingest_to_store(config, out, store_uri=store_uri)
        published = [json.loads((out / "acquisition.json").read_text())["acquisition_id"]]
    elif config.phantom:
        simulated = simulate_acquisitions(simulate.model_copy(update={"store_prefix": config.store_prefix}),
                                          out / "simulate", store_uri=store_uri)
        published = sorted(key.rsplit("/", 1)[-1] for key in simulated.acquisitions)
        manifest = OutputManifest(stage="acquire", config=simulate.model_dump(mode="json"),
                                  config_hash=config_hash(simulate), counts=dict(simulated.counts),
                                  metrics=dict(simulated.metrics), paths={"simulate": ["simulate/manifest.json"]})
    else:
        out.mkdir(parents=True, exist_ok=True)
        published = []
        manifest = OutputManifest(stage="acquire", config=config.model_dump(mode="json"),
                                  config_hash=config_hash(config), counts={"acquisitions": 0})
    (out / ACQUIRED).write_text(json.dumps(published))
    manifest.paths["acquired"] = [ACQUIRED]
    return write_manifest(manifest, out)
