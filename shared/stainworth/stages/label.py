"""The ``label`` stage: nuclei instance masks from each field's registered nuclear marker."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from stainworth.contracts.base import config_hash, file_sha256
from stainworth.contracts.fields import FieldInfo, FieldsManifest
from stainworth.contracts.manifest import write_manifest
from stainworth.contracts.prepare import LabelConfig
from stainworth.fields import (
    LABELS,
    REGISTERED,
    TRUTH,
    FieldCache,
    channel_index,
    field_path,
    mean_metrics,
    open_field_array,
    read_fields,
    reuse_or_make_each,
)
from stainworth.labels import clean_labels, label_nuclei_classical, no_nuclei
from stainworth.labels.blockwise import classical_threshold, halo_for, label_blockwise, sampled_percentiles
from stainworth.labels.quality import label_quality_blocks
from stainworth.mosaic.chunked import ChannelView
from stainworth.progress import Progress
from stainworth.store import open_store
from stainworth.store.model_file import fetch_model_file

CHUNK = 1024


class Labeler:
    """Labels one marker image with the configured method (the Cellpose model loaded once)."""

    def __init__(self, config: LabelConfig, scratch: Path) -> None:
        self.config = config
        self.model: Any = None
        self.model_hash = ""
        """SHA-256 of the Cellpose model file (empty for the classical method)."""
        if config.method == "cellpose":
            from stainworth.labels.cellpose_labeler import load_cellpose_model

            model_file = fetch_model_file(str(config.model_uri), scratch, field="label.model_uri")
            self.model_hash = file_sha256(model_file)
            self.model = load_cellpose_model(model_file)

    def for_field(self, marker: Any, pixel_size_um: float) -> Callable[[np.ndarray], np.ndarray]:
        """The raw labeler of one field's windows, with the field's global choices made once.

        Classical: Otsu's threshold of the whole smoothed field; Cellpose: the 1st/99th
        percentiles of the field (Cellpose's own normalisation when the field is one block).
        See :mod:`stainworth.labels.blockwise`.
        """
        config = self.config
        diameter_px = config.nucleus_diameter_um / pixel_size_um
        single = max(marker.shape[-2:]) <= config.block_px
        if self.model is not None:
            from stainworth.labels.cellpose_labeler import CELLPOSE_PERCENTILES, label_nuclei_cellpose

            lowhigh = None if single else sampled_percentiles(marker, CELLPOSE_PERCENTILES, block_px=config.block_px)
            return partial(label_nuclei_cellpose, model=self.model, diameter_px=diameter_px, lowhigh=lowhigh)
        threshold = classical_threshold(marker, sigma_px=diameter_px / 20.0, block_px=config.block_px)
        return partial(label_nuclei_classical, pixel_size_um=pixel_size_um, marker=config.marker,
                       nucleus_diameter_um=config.nucleus_diameter_um, threshold=threshold)


def label_field(config: LabelConfig, labeler: Labeler, stitched: Path, registered: Path, field: FieldInfo,
                out_root: Path, *, progress: Progress | None = None) -> FieldInfo:
    """Label one field block by block, clean up, check, write ``labels.zarr``; score against truth if known."""
    field_id = field.acquisition_id
    channel = channel_index(field, config.channel, setting="label.channel")
    marker = ChannelView(open_field_array(registered, field_id, REGISTERED, "fluorescence"), channel)
    min_area_px = int(round(config.min_area_um2 / field.pixel_size_um**2))
    halo_px = halo_for(config.nucleus_diameter_um / field.pixel_size_um)
    raw = labeler.for_field(marker, field.pixel_size_um)
    target = field_path(out_root, field_id, LABELS)
    partial_target = target.with_name(target.name + ".partial")
    shutil.rmtree(partial_target, ignore_errors=True)
    labels = zarr.open_group(str(partial_target), mode="w").create_array(
        "nuclei", shape=marker.shape, dtype=np.uint32, chunks=(CHUNK, CHUNK), fill_value=0)
    note = (lambda line: progress.throttled_note(f"{field_id}: {line}")) if progress is not None else None
    result = label_blockwise(marker, lambda window: clean_labels(raw(window), min_area_px=min_area_px), labels,
                             block_px=config.block_px, halo_px=halo_px, progress=note)
    if result.nuclei == 0:
        shutil.rmtree(partial_target, ignore_errors=True)
        raise no_nuclei(f"field '{field_id}'", marker.shape)
    shutil.rmtree(target, ignore_errors=True)
    partial_target.rename(target)
    metrics = {"nuclei": float(result.nuclei), "blocks": float(result.blocks),
               "nuclei_larger_than_halo": float(result.cut_by_halo)}
    if field.has_truth:
        metrics |= _truth_scores(open_field_array(stitched, field_id, TRUTH, "nuclei"),
                                 zarr.open_group(str(target), mode="r")["nuclei"], config=config,
                                 min_area_px=min_area_px, halo_px=halo_px)
    return field.model_copy(update={"metrics": metrics})


def _truth_scores(truth: Any, labels: Any, *, config: LabelConfig, min_area_px: int,
                  halo_px: int) -> dict[str, float]:
    """Dice and AP@0.5 of the labels against the phantom's true nuclei, both cleaned up alike, by blocks."""
    with tempfile.TemporaryDirectory(prefix="stainworth-truth-") as scratch:
        cleaned = zarr.open_group(scratch, mode="w").create_array(
            "nuclei", shape=truth.shape, dtype=np.uint32, chunks=(CHUNK, CHUNK), fill_value=0)
        label_blockwise(truth, lambda window: clean_labels(window, min_area_px=min_area_px), cleaned,
                        block_px=config.block_px, halo_px=halo_px)
        quality = label_quality_blocks(labels, cleaned, block_px=config.block_px)
    return {"dice": float(quality["dice"]), "ap50": float(quality["ap"])}


def _describe(field: FieldInfo) -> str:
    """Progress detail of a labelled field: its nuclei, and their quality against truth when known."""
    detail = f"{field.metrics['nuclei']:.0f} nuclei"
    if "dice" in field.metrics:
        detail += f", Dice {field.metrics['dice']:.3f}, AP@0.5 {field.metrics['ap50']:.3f}"
    return detail


def label_fields(config: LabelConfig, stitched_dir: str | Path, registered_dir: str | Path, output_dir: str | Path,
                 *, store_uri: str | None = None) -> FieldsManifest:
    """Label every registered field; one ``labels.zarr`` per field, manifest last.

    With ``store_uri``, fields labelled before with the same lineage, settings and model file are
    reused from the store and new ones published there (:mod:`stainworth.fields.cache`).
    """
    stitched, registered, out = Path(stitched_dir), Path(registered_dir), Path(output_dir)
    upstream = read_fields(registered)
    with tempfile.TemporaryDirectory(prefix="stainworth-label-") as scratch:
        labeler = Labeler(config, Path(scratch))
        settings = hashlib.sha256(f"{config_hash(config)}:{labeler.model_hash}".encode()).hexdigest()
        cache = FieldCache(open_store(store_uri), "label", settings) if store_uri else None
        progress = Progress("label", len(upstream.fields))
        jobs = [(field_id, field.lineage, partial(label_field, config, labeler, stitched, registered, field, out,
                                                  progress=progress))
                for field_id, field in sorted(upstream.fields.items())]
        fields = reuse_or_make_each(cache, jobs, out, progress,
                                    reused="labelled earlier with the same settings and model, reused",
                                    describe=_describe)
    means = mean_metrics(fields, ("dice", "ap50"))
    manifest = FieldsManifest(stage="label", config=config.model_dump(mode="json"), config_hash=config_hash(config),
                              input_hashes={"register": upstream.content_hash},
                              counts={"fields": len(fields), "nuclei": int(sum(f.metrics["nuclei"]
                                                                               for f in fields.values()))},
                              metrics=means, fields=fields)
    return write_manifest(manifest, out)
