"""The ``label`` stage: nuclei instance masks from each field's registered nuclear marker."""

from __future__ import annotations

import hashlib
import tempfile
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
    open_field_array,
    read_fields,
    reuse_or_make_each,
)
from stainworth.labels import clean_labels, label_nuclei_classical, label_quality, require_nuclei
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

    def __call__(self, image: np.ndarray, pixel_size_um: float) -> np.ndarray:
        """Raw instance labels of ``image``."""
        if self.model is not None:
            from stainworth.labels.cellpose_labeler import label_nuclei_cellpose

            return label_nuclei_cellpose(image, self.model,
                                         diameter_px=self.config.nucleus_diameter_um / pixel_size_um)
        return label_nuclei_classical(image, pixel_size_um=pixel_size_um, marker=self.config.marker,
                                      nucleus_diameter_um=self.config.nucleus_diameter_um)


def label_field(config: LabelConfig, labeler: Labeler, stitched: Path, registered: Path, field: FieldInfo,
                out_root: Path) -> FieldInfo:
    """Label one field, clean up, check, write ``labels.zarr``; score against truth if known."""
    field_id = field.acquisition_id
    channel = channel_index(field, config.channel, setting="label.channel")
    marker = open_field_array(registered, field_id, REGISTERED, "fluorescence")
    image = np.asarray(marker[channel])
    raw = labeler(image, field.pixel_size_um)
    min_area_px = int(round(config.min_area_um2 / field.pixel_size_um**2))
    labels = require_nuclei(clean_labels(raw, min_area_px=min_area_px), where=f"field '{field_id}'")
    zarr.open_group(str(field_path(out_root, field_id, LABELS)), mode="w").create_array(
        "nuclei", data=labels.astype(np.uint32), chunks=(CHUNK, CHUNK))
    metrics = {"nuclei": float(labels.max())}
    if field.has_truth:
        truth = np.asarray(open_field_array(stitched, field_id, TRUTH, "nuclei")[:])
        quality = label_quality(labels, clean_labels(truth, min_area_px=min_area_px))  # same clean-up on both
        metrics |= {"dice": float(quality["dice"]), "ap50": float(quality["ap"])}
    return field.model_copy(update={"metrics": metrics})


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
        jobs = [(field_id, field.lineage, partial(label_field, config, labeler, stitched, registered, field, out))
                for field_id, field in sorted(upstream.fields.items())]
        fields = reuse_or_make_each(cache, jobs, out, Progress("label", len(jobs)),
                                    reused="labelled earlier with the same settings and model, reused",
                                    describe=_describe)
    means = {f"mean_{name}": float(np.mean([f.metrics[name] for f in fields.values()]))
             for name in ("dice", "ap50") if all(name in f.metrics for f in fields.values())}
    manifest = FieldsManifest(stage="label", config=config.model_dump(mode="json"), config_hash=config_hash(config),
                              input_hashes={"register": upstream.content_hash},
                              counts={"fields": len(fields), "nuclei": int(sum(f.metrics["nuclei"]
                                                                               for f in fields.values()))},
                              metrics=means, fields=fields)
    return write_manifest(manifest, out)
