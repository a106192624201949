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
from stainworth.ingest import PlateIngestSpec, ingest_acquisition, ingest_plate, load_ingest_spec
from stainworth.phantom.publish import simulate_acquisitions
from stainworth.progress import Progress
from stainworth.store import open_store


def ingest_to_store(config: SourceConfig, output_dir: str | Path, *, store_uri: str | None = None) -> OutputManifest:
    """Ingest ``config.ingest_spec`` and publish each acquisition under ``<store_prefix>/<acquisition_id>``.

    A TIFF / PNG spec gives one acquisition, an OME-Zarr plate spec one per position (or per well
    with ``layout: tiles``). The output folder records which acquisitions were published
    (``acquisition.json``, or ``acquisitions/<id>.json`` for a plate) and their content hashes.
    """
    if not config.ingest_spec:
        raise ConfigError("prepare source: ingest_spec is not set; nothing to ingest")
    store = open_store(store_uri or None)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    plate = isinstance(load_ingest_spec(config.ingest_spec), PlateIngestSpec)
    progress = Progress("ingest", 1)
    with tempfile.TemporaryDirectory(prefix="stainworth-ingest-") as scratch:
        if plate:
            acquisitions = ingest_plate(config.ingest_spec, Path(scratch) / "plate", progress=progress.note)
            folders = [Path(scratch) / "plate" / a.acquisition_id for a in acquisitions]
            records = [f"acquisitions/{a.acquisition_id}.json" for a in acquisitions]
        else:
            acquisitions = [ingest_acquisition(config.ingest_spec, Path(scratch) / "acquisition",
                                               progress=progress.note)]
            folders, records = [Path(scratch) / "acquisition"], ["acquisition.json"]
        for acquisition, folder, record in zip(acquisitions, folders, records, strict=True):
            key = f"{config.store_prefix}/{acquisition.acquisition_id}"
            store.publish_dir(folder, key)
            (out / record).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(folder / "manifest.json", out / record)
            detail = f"{acquisition.acquisition_id}: {len(acquisition.tiles)} tile(s) -> {store.uri}/{key}"
            if plate:
                progress.note(detail)
            else:
                progress.step(detail)
    tiles = sum(len(acquisition.tiles) for acquisition in acquisitions)
    if plate:
        progress.step(f"{len(acquisitions)} acquisitions, {tiles} tile(s) -> {store.uri}/{config.store_prefix}")
    input_hashes = acquisitions[0].input_hashes if not plate else {
        f"{a.acquisition_id}:{name}": value for a in acquisitions for name, value in a.input_hashes.items()}
    manifest = OutputManifest(
        stage="ingest", config=config.model_dump(mode="json"), config_hash=config_hash(config),
        input_hashes=input_hashes, counts={"acquisitions": len(acquisitions), "tiles": tiles},
        paths={"acquisition": records},
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
        published = [json.loads((out / record).read_text())["acquisition_id"]
                     for record in manifest.paths["acquisition"]]
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
