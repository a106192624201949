"""Rendering phantom acquisitions and publishing them to the store: the ``simulate`` stage, also run by ``prepare``."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stainworth.contracts.base import config_hash
from stainworth.contracts.manifest import write_manifest
from stainworth.contracts.simulate import SimulateConfig, SimulateManifest
from stainworth.phantom.folder import write_phantom_acquisition
from stainworth.phantom.generate import generate_acquisition
from stainworth.progress import Progress
from stainworth.store import open_store


def field_seed(seed: int, condition_index: int, field_index: int) -> int:
    """Independent, reproducible seed of one field of view."""
    return int(np.random.SeedSequence([seed, condition_index, field_index]).generate_state(1)[0])


def simulate_acquisitions(
    config: SimulateConfig, output_dir: str | Path, *, store_uri: str | None = None
) -> SimulateManifest:
    """Render ``fields_per_condition`` acquisitions per condition and publish each to the store.

    Each acquisition is written to a scratch folder, then published under
    ``<store_prefix>/<acquisition_id>/`` data first and manifest last. ``output_dir`` receives an
    index of what was published (``acquisitions.csv``) and the stage manifest.

    Parameters
    ----------
    config
        Validated stage configuration.
    output_dir
        The stage's output folder (the KFP artifact path).
    store_uri
        Store to publish to; None or empty uses ``STAINWORTH_STORE`` or ``./runs/store``.
    """
    store = open_store(store_uri or None)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    digest = config_hash(config)
    jobs = [(c, condition, f) for c, condition in enumerate(config.conditions)
            for f in range(config.fields_per_condition)]
    progress = Progress("simulate", len(jobs))
    rows: list[dict[str, Any]] = []
    published: dict[str, str] = {}
    started = time.perf_counter()
    megapixels = 0.0
    with tempfile.TemporaryDirectory(prefix="stainworth-simulate-") as scratch:
        for condition_index, condition, field_index in jobs:
            acquisition_id = f"phantom-{digest[:8]}-{condition}-{field_index:03d}"
            acquisition = generate_acquisition(
                config.phantom, condition=condition,
                seed=field_seed(config.seed, condition_index, field_index),
            )
            folder = Path(scratch) / acquisition_id
            written = write_phantom_acquisition(
                acquisition, folder, acquisition_id=acquisition_id, config=config.phantom,
                overlap=config.phantom.acquisition.overlap,
            )
            key = f"{config.store_prefix}/{acquisition_id}"
            store.publish_dir(folder, key)
            shutil.rmtree(folder)
            published[key] = written.content_hash
            megapixels += sum(tile.size for tile in acquisition.qpi_tiles) / 1e6
            rows.append({"acquisition_id": acquisition_id, "condition": condition, "store_key": key,
                         "content_hash": written.content_hash, **written.counts})
            progress.step(f"{acquisition_id}: {written.counts['cells']} cells")
    seconds = time.perf_counter() - started
    pd.DataFrame(rows).to_csv(out / "acquisitions.csv", index=False)
    manifest = SimulateManifest(
        config=config.model_dump(mode="json"),
        config_hash=digest,
        counts={"acquisitions": len(rows), "tiles": int(sum(r["tiles"] for r in rows)),
                "cells": int(sum(r["cells"] for r in rows))},
        paths={"index": ["acquisitions.csv"]},
        metrics={"seconds": round(seconds, 3), "tile_megapixels_per_second": round(megapixels / seconds, 3)},
        store_uri=store.uri,
        acquisitions=published,
    )
    return write_manifest(manifest, out)
