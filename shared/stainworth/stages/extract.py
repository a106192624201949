"""The ``extract`` stage: registered, labelled fields → segmentation and classification datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from stainworth.contracts.base import config_hash
from stainworth.contracts.fields import DatasetManifest, FieldInfo, FieldsManifest
from stainworth.contracts.manifest import OutputManifest, write_manifest
from stainworth.contracts.prepare import ClassificationDatasetConfig, ExtractConfig, SegmentationDatasetConfig
from stainworth.datasets import (
    Mosaic,
    balance_and_split,
    extract_segmentation_dataset_multi,
    filter_outliers,
    flatten_statistics,
    measure_nuclei,
    sample_segmentation_patches_multi,
    write_classification_dataset,
)
from stainworth.datasets.folders import DATASET_DIR
from stainworth.errors import InputDataError
from stainworth.fields import LABELS, MOSAIC, REGISTERED, open_field_array, read_fields
from stainworth.progress import Progress
from stainworth.store import open_store


def _channel_index(field: FieldInfo, channel: str) -> int:
    if channel not in field.fluorescence_channels:
        raise InputDataError(f"field '{field.acquisition_id}': no fluorescence channel '{channel}'; "
                             f"it has {field.fluorescence_channels}")
    return field.fluorescence_channels.index(channel)


def open_mosaics(stitched: Path, registered: Path, labelled: Path, fields: FieldsManifest,
                 channel: str) -> list[Mosaic]:
    """The registered mosaic triple of every field, read lazily from the upstream outputs."""
    return [
        Mosaic(
            label_free=open_field_array(stitched, field_id, MOSAIC, "label_free"),
            fluorescence=open_field_array(registered, field_id, REGISTERED, "fluorescence"),
            labels=open_field_array(labelled, field_id, LABELS, "nuclei"),
            fluorescence_channel=_channel_index(field, channel),
            source_id=field_id,
        )
        for field_id, field in sorted(fields.fields.items())
    ]


def _dataset_manifest(kind: str, config: Any, seed: int, fields: FieldsManifest, channel: str,
                      counts: dict[str, int], stats: dict[str, Any], inputs: dict[str, str]) -> DatasetManifest:
    first = next(iter(fields.fields.values()))
    return DatasetManifest(
        stage="extract", config=config.model_dump(mode="json"), config_hash=config_hash(config),
        input_hashes=inputs, counts=counts, paths={"dataset": [DATASET_DIR]},
        metrics=flatten_statistics(stats), kind=kind, splits=counts, sources=sorted(fields.fields),  # type: ignore[arg-type]
        fluorescence_channel=channel, label_free_modality=first.label_free_modality,
        pixel_size_um=first.pixel_size_um, seed=seed, normalisation=stats,
    )


def extract_segmentation(config: SegmentationDatasetConfig, mosaics: list[Mosaic], out: Path, *, seed: int,
                         fields: FieldsManifest, inputs: dict[str, str]) -> DatasetManifest:
    """Random crops split by region, written as one dataset with its manifest."""
    counts = config.counts.as_dict()
    positions = sample_segmentation_patches_multi([m.shape for m in mosaics], patch=config.patch_px,
                                                  counts=counts, seed=seed)
    progress = Progress("extract segmentation", 1)
    dataset = extract_segmentation_dataset_multi(mosaics, positions, out / DATASET_DIR, patch=config.patch_px,
                                                 seed=seed, progress=progress.note)
    progress.step(f"{sum(counts.values())} crops of {config.patch_px} px")
    manifest = _dataset_manifest("segmentation", config, seed, fields, config.channel, dataset.counts,
                                 dataset.stats, inputs)
    return write_manifest(manifest, out)


def extract_classification(config: ClassificationDatasetConfig, mosaics: list[Mosaic], out: Path, *, seed: int,
                           fields: FieldsManifest, inputs: dict[str, str]) -> DatasetManifest:
    """Single nuclei on a canvas, IQR-filtered per condition, balanced 1:1, with its manifest."""
    conditions = {fields.fields[m.source_id].condition for m in mosaics}
    if not {"control", "treated"} <= conditions:
        raise InputDataError(
            f"classification needs control and treated fields; found conditions {sorted(map(str, conditions))} "
            "(set extract.classification.enabled=false for segmentation only)")
    progress = Progress("extract classification: measure", len(mosaics))
    tables = []
    for mosaic in mosaics:
        tables.append(measure_nuclei(mosaic.label_free, mosaic.fluorescence, mosaic.labels, canvas=config.canvas_px,
                                     condition=fields.fields[mosaic.source_id].condition, source_id=mosaic.source_id,
                                     fluorescence_channel=mosaic.fluorescence_channel))
        progress.step(f"{mosaic.source_id}: {len(tables[-1])} nuclei")
    table = pd.concat(tables, ignore_index=True)
    keep = filter_outliers(table, k=config.iqr_k)
    drawn = balance_and_split(table[keep], counts=config.counts.as_dict(), seed=seed)
    dataset = write_classification_dataset(out / DATASET_DIR, drawn, {m.source_id: m for m in mosaics},
                                           canvas=config.canvas_px, seed=seed,
                                           attrs={"iqr_k": config.iqr_k, "iqr_quantity": "area_px"})
    manifest = _dataset_manifest("classification", config, seed, fields, config.channel, dataset.counts,
                                 dataset.stats, inputs)
    manifest.counts |= {"nuclei_measured": len(table), "nuclei_usable": int((table["status"] == "ok").sum()),
                        "nuclei_after_iqr": int(keep.sum())}
    return write_manifest(manifest, out)


def extract_datasets(config: ExtractConfig, stitched: str | Path, registered: str | Path, labelled: str | Path,
                     output_dir: str | Path, *, store_uri: str | None = None) -> OutputManifest:
    """Build the enabled datasets from the labelled fields and publish each to the store."""
    stitched, registered, labelled, out = Path(stitched), Path(registered), Path(labelled), Path(output_dir)
    fields = read_fields(labelled)
    inputs = {"stitch": read_fields(stitched).content_hash, "register": read_fields(registered).content_hash,
              "label": fields.content_hash}
    store = open_store(store_uri or None)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, DatasetManifest] = {}
    seg = config.segmentation
    written["segmentation"] = extract_segmentation(
        seg, open_mosaics(stitched, registered, labelled, fields, seg.channel), out / "segmentation",
        seed=config.seed, fields=fields, inputs=inputs)
    cls = config.classification
    if cls.enabled:
        written["classification"] = extract_classification(
            cls, open_mosaics(stitched, registered, labelled, fields, cls.channel), out / "classification",
            seed=config.seed, fields=fields, inputs=inputs)
    published = {}
    for kind, manifest in written.items():
        key = f"{config.store_prefix}/{kind}-{manifest.content_hash[:12]}"
        store.publish_dir(out / kind, key)
        published[kind] = key
    summary = OutputManifest(
        stage="extract", config=config.model_dump(mode="json"), config_hash=config_hash(config),
        input_hashes=inputs,
        counts={f"{kind}_{split}": n for kind, m in written.items() for split, n in m.splits.items()},
        paths={kind: [f"{kind}/manifest.json"] for kind in written},
        metrics={f"{kind}.{key}": value for kind, m in written.items() for key, value in m.metrics.items()
                 if key.startswith("norm.") and key.endswith(("mean", "std"))},
    )
    (out / "published.json").write_text(pd.Series(published).to_json(indent=2))
    summary.paths["published"] = ["published.json"]
    return write_manifest(summary, out)
