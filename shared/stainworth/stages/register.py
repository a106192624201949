"""The ``register`` stage: every field's fluorescence mosaic resampled onto its label-free mosaic."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from stainworth.contracts.base import config_hash
from stainworth.contracts.fields import FieldInfo, FieldsManifest
from stainworth.contracts.manifest import write_manifest
from stainworth.contracts.prepare import RegisterConfig
from stainworth.errors import InputDataError
from stainworth.mosaic import ChannelView, RegistrationResult, apply_affine, register_affine, warp_to_fixed
from stainworth.mosaic.translate import TranslationResult, register_translation
from stainworth.prepared.field_cache import FieldCache, reuse_or_make
from stainworth.prepared.fields import MOSAIC, REGISTERED, TRUTH, field_path, open_field_array, read_fields
from stainworth.progress import Progress
from stainworth.store import open_store

CHUNK = 1024
MIN_OVERLAP = 0.5


def truth_error_px(stitched: Path, field_id: str, matrix: np.ndarray, shape: tuple[int, int]) -> dict[str, float]:
    """RMS and max distance between the estimated and the true affine over the mosaic (phantom)."""
    attrs = zarr.open_group(str(field_path(stitched, field_id, TRUTH)), mode="r").attrs
    true = np.asarray(attrs["fluorescence_to_qpi_affine_xy"], dtype=np.float64)
    offset_xy = np.asarray(attrs["offset_yx"], dtype=np.float64)[::-1]
    ys, xs = np.mgrid[0:shape[0]:max(shape[0] // 32, 1), 0:shape[1]:max(shape[1] // 32, 1)]
    points = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64)
    error = np.linalg.norm(apply_affine(matrix, points) - (apply_affine(true, points - offset_xy) + offset_xy), axis=1)
    return {"registration_error_px_rms": float(np.sqrt(np.mean(error**2))),
            "registration_error_px_max": float(error.max())}


def _check(config: RegisterConfig, field_id: str, result: RegistrationResult) -> None:
    if result.residual_px_rms > config.max_residual_px:
        raise InputDataError(f"registration of '{field_id}': residual {result.residual_px_rms:.2f} px RMS exceeds "
                             f"registration.max_residual_px={config.max_residual_px}")


def register_field(config: RegisterConfig, stitched: Path, field: FieldInfo, out_root: Path,
                   nucleus_diameter_px: float) -> FieldInfo:
    """Register and resample one field; returns its info with the registration metrics."""
    field_id = field.acquisition_id
    if config.moving_channel not in field.fluorescence_channels:
        raise InputDataError(f"field '{field_id}': registration.moving_channel '{config.moving_channel}' is not "
                             f"among its fluorescence channels {field.fluorescence_channels}")
    label_free = open_field_array(stitched, field_id, MOSAIC, "label_free")
    fluorescence = open_field_array(stitched, field_id, MOSAIC, "fluorescence")
    moving = ChannelView(fluorescence, field.fluorescence_channels.index(config.moving_channel))
    result: RegistrationResult | TranslationResult
    if config.method == "translation":
        result = register_translation(label_free, moving, max_side=config.max_side_px,
                                      nucleus_diameter_px=nucleus_diameter_px)
    else:
        result = register_affine(label_free, moving, max_side=config.max_side_px, min_matches=config.min_inliers,
                                 nucleus_diameter_px=nucleus_diameter_px)
        _check(config, field_id, result)
    group = zarr.open_group(str(field_path(out_root, field_id, REGISTERED)), mode="w")
    registered = group.create_array("fluorescence", shape=(fluorescence.shape[0], *label_free.shape),
                                    chunks=(1, CHUNK, CHUNK), dtype="float32")
    warp_to_fixed(fluorescence, result.matrix, registered, block=CHUNK)
    group.attrs["fluorescence_to_label_free_affine_xy"] = result.matrix.tolist()
    covered = _coverage(registered)
    if covered < MIN_OVERLAP:
        raise InputDataError(f"field '{field_id}': after registration the fluorescence covers {covered:.0%} of the "
                             f"label-free mosaic ({label_free.shape[0]}x{label_free.shape[1]} px), at least "
                             f"{MIN_OVERLAP:.0%} needed")
    metrics = {"shift_x_px": float(result.matrix[0, 2]), "shift_y_px": float(result.matrix[1, 2]),
               "coverage": covered}
    if isinstance(result, TranslationResult):
        metrics |= {"correlation": result.correlation, "label_free_polarity": result.polarity}
    else:
        metrics |= {"matches": float(result.n_matches), "inliers": float(result.n_inliers),
                    "residual_px_rms": result.residual_px_rms, "coarse_matches": float(result.coarse_matches),
                    "coarse_inliers": float(result.coarse_inliers), "windows": float(result.n_windows),
                    "scale": result.scale, "rotation_deg": result.rotation_deg}
    if field.has_truth:
        metrics |= truth_error_px(stitched, field_id, result.matrix, field.shape_yx)
    return field.model_copy(update={"metrics": metrics})


def _coverage(registered: Any) -> float:
    """Share of the label-free frame the resampled fluorescence reaches (first channel, by chunks)."""
    height, width = registered.shape[-2:]
    covered = 0
    for y0 in range(0, height, CHUNK):
        covered += int(np.count_nonzero(np.asarray(registered[0, y0:y0 + CHUNK, :])))
    return covered / float(height * width)


def register_fields(config: RegisterConfig, stitched_dir: str | Path, output_dir: str | Path, *,
                    nucleus_diameter_um: float = 10.0, store_uri: str | None = None) -> FieldsManifest:
    """Register every stitched field; one ``registered.zarr`` per field, manifest last.

    With ``store_uri``, fields registered before with the same lineage are reused from the store
    and new ones published there (:mod:`stainworth.prepared.field_cache`).
    """
    stitched, out = Path(stitched_dir), Path(output_dir)
    upstream = read_fields(stitched)
    progress = Progress("register", len(upstream.fields))
    cache = FieldCache(open_store(store_uri), "register", config_hash(config)) if store_uri else None
    fields = {}
    for field_id, field in sorted(upstream.fields.items()):
        fields[field_id], reused = reuse_or_make(
            cache, field_id, field.lineage, out,
            partial(register_field, config, stitched, field, out, nucleus_diameter_um / field.pixel_size_um))
        if reused:
            progress.step(f"{field_id}: registered earlier with the same settings, reused")
            continue
        metrics = fields[field_id].metrics
        detail = (f"{field_id}: {metrics['inliers']:.0f}/{metrics['matches']:.0f} inliers" if "inliers" in metrics
                  else f"{field_id}: shift ({metrics['shift_x_px']:.2f}, {metrics['shift_y_px']:.2f}) px")
        if "registration_error_px_rms" in metrics:
            detail += f", error vs truth {metrics['registration_error_px_rms']:.2f} px RMS"
        progress.step(detail)
    names = ("residual_px_rms", "registration_error_px_rms", "registration_error_px_max")
    means = {f"mean_{n}": float(np.mean([f.metrics[n] for f in fields.values() if n in f.metrics]))
             for n in names if any(n in f.metrics for f in fields.values())}
    manifest = FieldsManifest(stage="register", config=config.model_dump(mode="json"), config_hash=config_hash(config),
                              input_hashes={"stitch": upstream.content_hash}, counts={"fields": len(fields)},
                              metrics=means, fields=fields)
    return write_manifest(manifest, out)
