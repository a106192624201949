"""The ``stitch`` stage: each acquisition's tiles → label-free and fluorescence mosaics."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
import zarr

from stainworth.contracts.acquisition import AcquisitionManifest
from stainworth.contracts.base import config_hash, validate_model
from stainworth.contracts.fields import FieldInfo, FieldsManifest
from stainworth.contracts.manifest import MANIFEST_NAME, OutputManifest, read_manifest, write_manifest
from stainworth.contracts.prepare import PrepareConfig, StitchConfig
from stainworth.errors import InputDataError
from stainworth.fields import (
    ACQUIRED,
    MOSAIC,
    TILE_POSITIONS,
    TILE_SHAPE,
    TRUTH,
    FieldCache,
    field_path,
    mean_metrics,
    reuse_or_make_each,
)
from stainworth.io.acquisition import load_tile, read_acquisition
from stainworth.mosaic import StitchResult, assemble_mosaic, estimate_tile_positions, iter_blocks, read_window
from stainworth.progress import Progress
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
    excluded = set(config.source.exclude_acquisition_ids)
    found = [name for name in store.complete_folders(prefix) if name not in excluded]
    if not found:
        raise InputDataError(f"prepare source: no complete acquisitions under {store.uri}/{prefix} "
                             "(run the simulate pipeline, or set prepare.source.ingest_spec)")
    return found


def _positions(config: StitchConfig, folder: Path, acquisition: AcquisitionManifest,
               progress: Progress | None = None) -> StitchResult:
    nominal = np.array([tile.position_yx for tile in acquisition.tiles], dtype=np.float64)
    grid = [(tile.row, tile.col) for tile in acquisition.tiles]
    tile_shape = (int(acquisition.tile_size_yx[0]), int(acquisition.tile_size_yx[1]))
    if len(acquisition.tiles) == 1:
        return StitchResult(positions=np.zeros((1, 2)), pair_table=[], rms_residual_px=0.0, tile_shape=tile_shape)
    return estimate_tile_positions(lambda k: load_tile(folder, acquisition.tiles[k], "label_free"), nominal, grid,
                                   tile_shape, max_shift_px=config.max_shift_px,
                                   progress=None if progress is None else progress.throttled_note)


def _truth(folder: Path, acquisition: AcquisitionManifest, result: StitchResult, out: Path,
           block: int) -> dict[str, float]:
    """Copy phantom ground-truth labels into the stitched frame, block by block; return position errors."""
    geometry = json.loads((folder / acquisition.ground_truth["geometry"]).read_text())
    true = np.asarray(geometry["true_positions_yx"], dtype=np.float64)
    difference = result.positions - true
    error = np.linalg.norm(difference - difference.mean(axis=0), axis=1)
    offset = np.rint(difference.mean(axis=0)).astype(np.int64)
    with tifffile.TiffFile(folder / acquisition.ground_truth["nuclei_labels"]) as tif:
        labels = zarr.open_array(tif.series[0].aszarr(), mode="r")
        labels_yx = _LastTwoAxes(labels)
        group = zarr.open_group(str(out), mode="w")
        moved = group.create_array("nuclei", shape=result.mosaic_shape, chunks=(CHUNK, CHUNK), dtype="uint32")
        for y0, y1, x0, x1 in iter_blocks(result.mosaic_shape, block):
            moved[y0:y1, x0:x1] = read_window(labels_yx, y0 - offset[0], y1 - offset[0], x0 - offset[1],
                                              x1 - offset[1]).astype(np.uint32)
    group.attrs.update({"offset_yx": offset.tolist(),
                        "fluorescence_to_qpi_affine_xy": geometry["fluorescence_to_qpi_affine_xy"]})
    return {"position_error_px_rms": float(np.sqrt(np.mean(error**2))), "position_error_px_max": float(error.max())}


class _LastTwoAxes:
    """(Y, X) view of a label image stored with leading singleton axes."""

    def __init__(self, array: Any) -> None:
        self.array = array
        self.shape = tuple(array.shape[-2:])

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray:
        lead = (0,) * (len(self.array.shape) - 2)
        return np.asarray(self.array[(*lead, *key[-2:])])


def stitch_acquisition(config: StitchConfig, folder: Path, out_root: Path,
                       progress: Progress | None = None) -> FieldInfo:
    """Stitch one fetched acquisition folder into ``<out_root>/fields/<id>/``."""
    acquisition = read_acquisition(folder)
    result = _positions(config, folder, acquisition, progress)
    channels = [c.name for c in acquisition.channels if c.role == "fluorescence"]
    group = zarr.open_group(str(field_path(out_root, acquisition.acquisition_id, MOSAIC)), mode="w")
    label_free = group.create_array("label_free", shape=result.mosaic_shape, chunks=(CHUNK, CHUNK), dtype="float32")
    fluorescence = group.create_array("fluorescence", shape=(len(channels), *result.mosaic_shape),
                                      chunks=(1, CHUNK, CHUNK), dtype="float32")
    assemble_mosaic(lambda k: load_tile(folder, acquisition.tiles[k], "label_free"), result.positions, label_free,
                    tile_shape=result.tile_shape, block=config.block_px)
    assemble_mosaic(lambda k: load_tile(folder, acquisition.tiles[k], "fluorescence").reshape(len(channels),
                    *result.tile_shape), result.positions, fluorescence, tile_shape=result.tile_shape,
                    block=config.block_px)
    group.attrs.update({TILE_POSITIONS: np.rint(result.positions).astype(int).tolist(),
                        TILE_SHAPE: list(result.tile_shape)})
    metrics = {"tiles": float(len(acquisition.tiles)), "pair_residual_px_rms": result.rms_residual_px,
               "pairs_used": float(sum(bool(p["used"]) for p in result.pair_table)),
               "pairs": float(len(result.pair_table))}
    has_truth = "nuclei_labels" in acquisition.ground_truth
    if has_truth:
        metrics |= _truth(folder, acquisition, result, field_path(out_root, acquisition.acquisition_id, TRUTH),
                          config.block_px)
    return FieldInfo(acquisition_id=acquisition.acquisition_id, condition=acquisition.condition,
                     pixel_size_um=acquisition.pixel_size_um, label_free_modality=acquisition.label_free_modality,
                     fluorescence_channels=channels, shape_yx=result.mosaic_shape, has_truth=has_truth,
                     metrics=metrics)


def acquisition_groups(config: PrepareConfig, ingested_dir: str | Path, *, store_uri: str | None = None,
                       slots: int) -> list[list[str]]:
    """The acquisitions to prepare, as the branches of the prepare fan-out (``prepare.grouping``).

    ``acquisition`` (and None, as on a cluster): one branch per acquisition; ``slots``: dealt in
    turn to at most ``slots`` branches (the local runner's slots), in the order they are selected.
    """
    ids = select_acquisitions(config, ingested_dir, open_store(store_uri or None))
    if config.grouping != "slots":
        return [[acquisition_id] for acquisition_id in ids]
    if slots < 1:
        raise InputDataError(f"slots: found {slots}; expected at least 1")
    count = min(slots, len(ids))
    return [ids[k::count] for k in range(count)]


def stitch_fields(config: PrepareConfig, ingested_dir: str | Path, output_dir: str | Path, *,
                  store_uri: str | None = None, acquisition_ids: Sequence[str] | None = None) -> FieldsManifest:
    """Stitch every selected acquisition (or ``acquisition_ids`` of them); one mosaic group per field, manifest last."""
    store = open_store(store_uri or None)
    out = Path(output_dir)
    ids = select_acquisitions(config, ingested_dir, store)
    if acquisition_ids:
        unknown = [a for a in acquisition_ids if a not in ids]
        if unknown:
            raise InputDataError(f"stitch: acquisitions {unknown} are not among those to prepare ({ids})")
        ids = list(acquisition_ids)
    progress = Progress("stitch", len(ids))
    cache = FieldCache(store, "stitch", config_hash(config.stitch))
    keys = {acquisition_id: f"{config.source.store_prefix}/{acquisition_id}" for acquisition_id in ids}
    inputs = {acquisition_id: validate_model(AcquisitionManifest, store.read_json(f"{key}/{MANIFEST_NAME}"),
                                             where=f"{store.uri}/{key}/{MANIFEST_NAME}").content_hash
              for acquisition_id, key in keys.items()}

    def make(acquisition_id: str) -> FieldInfo:
        with tempfile.TemporaryDirectory(prefix="stainworth-stitch-") as scratch:
            folder = store.fetch_dir(keys[acquisition_id], Path(scratch) / acquisition_id)
            return stitch_acquisition(config.stitch, folder, out, progress)

    fields = reuse_or_make_each(cache, [(a, inputs[a], partial(make, a)) for a in ids], out, progress,
                                reused="stitched earlier with the same settings, reused", describe=_describe)
    manifest = FieldsManifest(
        stage="stitch", config=config.stitch.model_dump(mode="json"), config_hash=config_hash(config.stitch),
        input_hashes=inputs, counts={"fields": len(fields)},
        metrics=mean_metrics(fields, ("pair_residual_px_rms", "position_error_px_rms", "position_error_px_max")),
        fields=fields)
    return write_manifest(manifest, out)


def _describe(field: FieldInfo) -> str:
    """Progress detail of a stitched field: the pair residual, and the position error against truth if known."""
    detail = f"residual {field.metrics['pair_residual_px_rms']:.2f} px"
    if "position_error_px_max" in field.metrics:
        detail += f", position error max {field.metrics['position_error_px_max']:.2f} px"
    return detail
