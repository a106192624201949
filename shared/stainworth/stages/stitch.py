"""The ``stitch`` stage: each acquisition's tiles → label-free and fluorescence mosaics."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import zarr

from stainworth.contracts.acquisition import AcquisitionManifest
from stainworth.contracts.base import config_hash
from stainworth.contracts.fields import FieldInfo, FieldsManifest
from stainworth.contracts.manifest import MANIFEST_NAME, OutputManifest, read_manifest, write_manifest
from stainworth.contracts.prepare import PrepareConfig, StitchConfig
from stainworth.errors import InputDataError
from stainworth.io.acquisition import load_tile, read_acquisition
from stainworth.io.ome import read_ome_tiff
from stainworth.preprocess.stitch import StitchResult, assemble_mosaic, estimate_tile_positions
from stainworth.progress import Progress
from stainworth.stages.fields import MOSAIC, TRUTH, field_path
from stainworth.stages.ingest import ACQUIRED
from stainworth.store import Store, open_store

CHUNK = 1024


def select_acquisitions(config: PrepareConfig, ingested_dir: str | Path, store: Store) -> list[str]:
    """Acquisition ids to prepare: the ingested one, the listed ones, or every complete one."""
    read_manifest(OutputManifest, ingested_dir)  # the first step finished
    acquired = json.loads((Path(ingested_dir) / ACQUIRED).read_text())
    if acquired:
        return list(acquired)
    prefix = config.source.store_prefix
    if config.source.acquisition_ids:
        missing = [a for a in config.source.acquisition_ids if not store.is_complete(f"{prefix}/{a}")]
        if missing:
            raise InputDataError(f"prepare source: acquisitions {missing} are not complete in {store.uri}/{prefix}")
        return list(config.source.acquisition_ids)
    found = sorted({key.split("/")[-2] for key in store.list(prefix + "/") if key.endswith("/" + MANIFEST_NAME)
                    and key.count("/") == prefix.count("/") + 2})
    if not found:
        raise InputDataError(f"prepare source: no complete acquisitions under {store.uri}/{prefix} "
                             "(run the simulate pipeline, or set prepare.source.ingest_spec)")
    return found


def _positions(config: StitchConfig, folder: Path, acquisition: AcquisitionManifest) -> StitchResult:
    nominal = np.array([tile.position_yx for tile in acquisition.tiles], dtype=np.int64)
    grid = [(tile.row, tile.col) for tile in acquisition.tiles]
    if len(acquisition.tiles) == 1:
        shape = acquisition.tile_size_yx
        return StitchResult(positions=np.zeros((1, 2), np.int64), pairs=[], rms_residual_px=0.0,
                            mosaic_shape=(int(shape[0]), int(shape[1])))
    return estimate_tile_positions(lambda k: load_tile(folder, acquisition.tiles[k], "label_free"), nominal, grid,
                                   max_shift_px=config.max_shift_px)


def _truth(folder: Path, acquisition: AcquisitionManifest, result: StitchResult, out: Path) -> dict[str, float]:
    """Move phantom ground-truth labels into the stitched frame; return position errors."""
    geometry = json.loads((folder / acquisition.ground_truth["geometry"]).read_text())
    true = np.asarray(geometry["true_positions_yx"], dtype=np.int64)
    offset = np.rint((result.positions - true).mean(axis=0)).astype(np.int64)
    error = np.linalg.norm(result.positions - true - offset, axis=1)
    labels = read_ome_tiff(folder / acquisition.ground_truth["nuclei_labels"]).data
    moved = np.zeros(result.mosaic_shape, np.uint32)
    (dy, dx), (h, w) = offset, result.mosaic_shape
    source = labels[max(-dy, 0):max(-dy, 0) + h - max(dy, 0), max(-dx, 0):max(-dx, 0) + w - max(dx, 0)]
    moved[max(dy, 0):max(dy, 0) + source.shape[0], max(dx, 0):max(dx, 0) + source.shape[1]] = source
    group = zarr.open_group(str(out), mode="w")
    group.create_array("nuclei", data=moved, chunks=(CHUNK, CHUNK))
    group.attrs.update({"offset_yx": offset.tolist(),
                        "fluorescence_to_qpi_affine_xy": geometry["fluorescence_to_qpi_affine_xy"]})
    return {"position_error_px_rms": float(np.sqrt(np.mean(error**2))), "position_error_px_max": float(error.max())}


def stitch_acquisition(config: StitchConfig, folder: Path, out_root: Path) -> FieldInfo:
    """Stitch one fetched acquisition folder into ``<out_root>/fields/<id>/``."""
    acquisition = read_acquisition(folder)
    result = _positions(config, folder, acquisition)
    channels = [c.name for c in acquisition.channels if c.role == "fluorescence"]
    group = zarr.open_group(str(field_path(out_root, acquisition.acquisition_id, MOSAIC)), mode="w")
    label_free = group.create_array("label_free", shape=result.mosaic_shape, chunks=(CHUNK, CHUNK), dtype="float32")
    fluorescence = group.create_array("fluorescence", shape=(len(channels), *result.mosaic_shape),
                                      chunks=(1, CHUNK, CHUNK), dtype="float32")
    assemble_mosaic(lambda k: load_tile(folder, acquisition.tiles[k], "label_free"), result.positions, label_free,
                    block=config.block_px)
    assemble_mosaic(lambda k: load_tile(folder, acquisition.tiles[k], "fluorescence").reshape(len(channels),
                    *acquisition.tile_size_yx), result.positions, fluorescence, block=config.block_px)
    metrics = {"tiles": float(len(acquisition.tiles)), "pair_residual_px_rms": result.rms_residual_px,
               "pairs_used": float(sum(p.used for p in result.pairs)), "pairs": float(len(result.pairs))}
    has_truth = "nuclei_labels" in acquisition.ground_truth
    if has_truth:
        metrics |= _truth(folder, acquisition, result, field_path(out_root, acquisition.acquisition_id, TRUTH))
    return FieldInfo(acquisition_id=acquisition.acquisition_id, condition=acquisition.condition,
                     pixel_size_um=acquisition.pixel_size_um, label_free_modality=acquisition.label_free_modality,
                     fluorescence_channels=channels, shape_yx=result.mosaic_shape, has_truth=has_truth,
                     metrics=metrics)


def stitch_fields(config: PrepareConfig, ingested_dir: str | Path, output_dir: str | Path, *,
                  store_uri: str | None = None) -> FieldsManifest:
    """Stitch every selected acquisition; one mosaic group per field, manifest last."""
    store = open_store(store_uri or None)
    out = Path(output_dir)
    ids = select_acquisitions(config, ingested_dir, store)
    progress = Progress("stitch", len(ids))
    fields, inputs = {}, {}
    for acquisition_id in ids:
        key = f"{config.source.store_prefix}/{acquisition_id}"
        with tempfile.TemporaryDirectory(prefix="stainworth-stitch-") as scratch:
            folder = store.fetch_dir(key, Path(scratch) / acquisition_id)
            inputs[acquisition_id] = read_manifest(AcquisitionManifest, folder).content_hash
            fields[acquisition_id] = stitch_acquisition(config.stitch, folder, out)
        metrics = fields[acquisition_id].metrics
        detail = f"{acquisition_id}: residual {metrics['pair_residual_px_rms']:.2f} px"
        if "position_error_px_max" in metrics:
            detail += f", position error max {metrics['position_error_px_max']:.2f} px"
        progress.step(detail)
    manifest = FieldsManifest(
        stage="stitch", config=config.stitch.model_dump(mode="json"), config_hash=config_hash(config.stitch),
        input_hashes=inputs, counts={"fields": len(fields)},
        metrics=_mean_metrics(fields, ("pair_residual_px_rms", "position_error_px_rms", "position_error_px_max")),
        fields=fields)
    return write_manifest(manifest, out)


def _mean_metrics(fields: dict[str, FieldInfo], names: tuple[str, ...]) -> dict[str, float]:
    """Mean over fields of each named metric that the fields report."""
    result = {}
    for name in names:
        values = [f.metrics[name] for f in fields.values() if name in f.metrics]
        if values:
            result[f"mean_{name}"] = float(np.mean(values))
    return result
