"""Ingest (stage 1): a lab's own images and a YAML spec into an acquisition folder.

Every file is probed (header only) and checked before any pixels are decoded; pixels are then
read tile by tile, checked, and written as OME-TIFF into a staging folder next to the target,
which is renamed into place after the manifest is written. Bad input stops with one line naming
the file and spec field and leaves nothing behind.

Stored values: label-free as float32 (``raw * scale + offset``, unit from the spec: ``rad`` for
QPI, ``a.u.`` for phase contrast, DIC and bright field); fluorescence as uint16 when every input
is an unsigned integer of at most 16 bits (lossless), otherwise float32.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stainworth.contracts.acquisition import AcquisitionManifest, ChannelInfo, TileInfo
from stainworth.contracts.base import config_hash, file_sha256
from stainworth.contracts.manifest import write_manifest
from stainworth.errors import ConfigError, InputDataError
from stainworth.ingest.readers import ImageHeader, check_plane, probe_image, read_image
from stainworth.ingest.spec import IngestSpec, PlateIngestSpec, load_ingest_spec
from stainworth.io.ome import write_ome_tiff


@dataclass(frozen=True)
class TilePlan:
    """One tile's files, probed and shape-checked."""

    row: int
    col: int
    position_yx: tuple[int, int]
    label_free: list[ImageHeader]
    fluorescence: list[ImageHeader]
    """One header per channel, or a single (C, Y, X) header."""

    @property
    def shape(self) -> tuple[int, int]:
        """(Y, X) of the tile."""
        y, x = self.label_free[0].shape[-2:]
        return y, x


def _probe(base: Path, name: str, field: str, *, pixel_size_um: float, channels: int | None = None) -> ImageHeader:
    path = Path(name) if Path(name).is_absolute() else base / name
    header = probe_image(path, field=field)
    check_plane(header, channels=channels)
    if header.pixel_size_um is not None and abs(header.pixel_size_um / pixel_size_um - 1) > 0.01:
        raise InputDataError(f"{path} (spec field {field}): OME pixel size {header.pixel_size_um} um differs from "
                             f"the spec's pixel_size_um {pixel_size_um}; expected the same (fix one of them)")
    return header


def plan_tiles(spec: IngestSpec, base: Path) -> list[TilePlan]:
    """Probe every file the spec names and check shapes; a single field becomes tile r0 c0."""
    pixel, names = spec.pixel_size_um, [channel.name for channel in spec.fluorescence]
    plans = []
    if spec.tiles is None:
        label_free = [_probe(base, f, f"label_free.files[{k}]", pixel_size_um=pixel)
                      for k, f in enumerate(spec.label_free.files)]
        fluorescence = [_probe(base, str(c.file), f"fluorescence[{k}].file", pixel_size_um=pixel)
                        for k, c in enumerate(spec.fluorescence)]
        plans.append(TilePlan(0, 0, (0, 0), label_free, fluorescence))
    else:
        for t, tile in enumerate(spec.tiles):
            files = [tile.label_free] if isinstance(tile.label_free, str) else tile.label_free
            label_free = [_probe(base, f, f"tiles[{t}].label_free", pixel_size_um=pixel) for f in files]
            if isinstance(tile.fluorescence, str):
                fluorescence = [_probe(base, tile.fluorescence, f"tiles[{t}].fluorescence", pixel_size_um=pixel,
                                       channels=len(names))]
            else:
                fluorescence = [_probe(base, tile.fluorescence[n], f"tiles[{t}].fluorescence.{n}", pixel_size_um=pixel)
                                for n in names]
            plans.append(TilePlan(tile.row, tile.col, tile.position_yx, label_free, fluorescence))
    _check_sizes(plans)
    return plans


def _check_sizes(plans: list[TilePlan]) -> None:
    first = plans[0]
    for plan in plans:
        for header in plan.label_free + plan.fluorescence:
            if header.shape[-2:] != plan.shape:
                raise InputDataError(
                    f"{header.path} (spec field {header.field}): {header.shape[-2]}x{header.shape[-1]} px but the "
                    f"tile's label-free image {plan.label_free[0].path.name} is {plan.shape[0]}x{plan.shape[1]} px; "
                    f"expected label-free and fluorescence of one size (registered)")
        if plan.shape != first.shape:
            raise InputDataError(f"tile r{plan.row} c{plan.col}: {plan.shape[0]}x{plan.shape[1]} px but tile "
                                 f"r{first.row} c{first.col} is {first.shape[0]}x{first.shape[1]} px; "
                                 f"expected every tile to have one size")


def _overlap(spec: IngestSpec, plans: list[TilePlan]) -> float:
    """Check that neighbouring tiles overlap and return the nominal overlap fraction."""
    return nominal_overlap([(p.row, p.col, p.position_yx) for p in plans], plans[0].shape, spec.overlap)


def nominal_overlap(tiles: list[tuple[int, int, tuple[int, int]]], shape: tuple[int, int],
                    overlap: float | None) -> float:
    """Check that neighbouring tiles overlap; the given overlap, or the median of the measured ones.

    Parameters
    ----------
    tiles
        ``(row, col, position_yx)`` per tile, positions in mosaic pixels.
    shape
        (Y, X) of every tile.
    overlap
        The spec's nominal overlap fraction, or None to derive it.

    Raises
    ------
    InputDataError
        Two neighbouring tiles that do not overlap (or lie on top of each other).
    """
    where = {(row, col): position for row, col, position in tiles}
    height, width = shape
    fractions = []
    for row, col, position in tiles:
        for (dr, dc), axis, size in (((0, 1), 1, width), ((1, 0), 0, height)):
            other = where.get((row + dr, col + dc))
            if other is None:
                continue
            shared = size - (other[axis] - position[axis])
            if shared <= 0 or shared >= size:
                raise InputDataError(
                    f"tiles r{row} c{col} and r{row + dr} c{col + dc}: positions {tuple(position)} and "
                    f"{tuple(other)} give {shared} px of overlap for {size} px tiles; expected neighbouring "
                    f"tiles to overlap (stitching registers the overlaps)")
            fractions.append(shared / size)
    if overlap is not None:
        return overlap
    return float(np.median(fractions)) if fractions else 0.0


def _fluorescence_dtype(plans: list[TilePlan]) -> str:
    dtypes = {header.dtype for plan in plans for header in plan.fluorescence}
    lossless = all(d.kind == "u" and d.itemsize <= 2 for d in dtypes)
    return "uint16" if lossless else "float32"


def _label_free(spec: IngestSpec, plan: TilePlan) -> np.ndarray:
    planes = [read_image(header) for header in plan.label_free]
    if spec.label_free.z_combine == "mean":
        raw = np.mean([plane.astype(np.float64) for plane in planes], axis=0)
    else:
        raw = planes[len(planes) // 2].astype(np.float64)
    return (raw * spec.label_free.scale + spec.label_free.offset).astype(np.float32)


def _fluorescence(plan: TilePlan, dtype: str) -> np.ndarray:
    planes = [read_image(header) for header in plan.fluorescence]
    stack = planes[0] if len(planes) == 1 and planes[0].ndim == 3 else np.stack(planes)
    return stack.astype(dtype)


@contextmanager
def staged_folder(out: Path) -> Iterator[Path]:
    """An empty staging folder next to ``out``: renamed into place when the block ends, removed if it raises.

    Raises
    ------
    InputDataError
        ``out`` exists and is not an empty folder.
    """
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputDataError(f"{out}: already exists and is not empty; refusing to overwrite an acquisition")
    staging = out.with_name(f".{out.name}.ingest-partial")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        yield staging
        if out.exists():
            out.rmdir()
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _input_hashes(spec_path: Path, plans: list[TilePlan]) -> dict[str, str]:
    hashes = {"spec": file_sha256(spec_path)}
    for plan in plans:
        for header in plan.label_free + plan.fluorescence:
            hashes[header.field if len(plans) == 1 else f"{header.field}:{header.path.name}"] = file_sha256(header.path)
    return hashes


def ingest_acquisition(
    spec_path: str | Path, out_dir: str | Path, *, progress: Callable[[str], None] | None = None
) -> AcquisitionManifest:
    """Turn the files named by an ingest spec into an acquisition folder, manifest last.

    Parameters
    ----------
    spec_path
        Ingest YAML (see :mod:`stainworth.ingest.spec`); relative file names resolve against
        its folder.
    out_dir
        Acquisition folder to create (must not exist, or be empty).
    progress
        Optional callback receiving lines such as ``"ingest tile 2/9"``.

    Returns
    -------
    AcquisitionManifest
        The written manifest (``source="ingested"``), readable with
        :func:`stainworth.io.acquisition.read_acquisition`.

    Raises
    ------
    ConfigError
        Invalid spec (unknown keys, missing fields, bad values).
    InputDataError
        Missing, unreadable or truncated file; colour image, wrong pixel type, shape or channel
        count; NaN / infinite pixels; label-free and fluorescence of different sizes; tiles that
        do not overlap. Nothing is written.
    """
    spec_file, out = Path(spec_path), Path(out_dir)
    spec = load_ingest_spec(spec_file)
    if isinstance(spec, PlateIngestSpec):
        raise ConfigError(f"{spec_file}: describes an OME-Zarr plate (one acquisition per position or well); "
                          f"expected a single acquisition here; ingest it with ingest_plate")
    plans = plan_tiles(spec, spec_file.parent)
    overlap = _overlap(spec, plans)
    dtype = _fluorescence_dtype(plans)
    names = [channel.name for channel in spec.fluorescence]
    origin = np.min([plan.position_yx for plan in plans], axis=0)
    with staged_folder(out) as staging:
        tiles = []
        for k, plan in enumerate(plans):
            stem = f"tiles/r{plan.row:03d}_c{plan.col:03d}"
            files = {"label_free": f"{stem}_label_free.ome.tif", "fluorescence": f"{stem}_fluorescence.ome.tif"}
            write_ome_tiff(staging / files["label_free"], _label_free(spec, plan), axes="YX",
                           pixel_size_um=spec.pixel_size_um)
            write_ome_tiff(staging / files["fluorescence"], _fluorescence(plan, dtype), axes="CYX",
                           pixel_size_um=spec.pixel_size_um, channel_names=names)
            position = (int(plan.position_yx[0] - origin[0]), int(plan.position_yx[1] - origin[1]))
            tiles.append(TileInfo(row=plan.row, col=plan.col, position_yx=position, files=files))
            if progress is not None:
                progress(f"ingest tile {k + 1}/{len(plans)}")
        channels = [ChannelInfo(name="label_free", role="label_free", unit=spec.label_free.resolved_unit,
                                dtype="float32")]
        channels += [ChannelInfo(name=c.name, role="fluorescence", marker=c.marker, unit=c.unit, dtype=dtype)  # type: ignore[arg-type]
                     for c in spec.fluorescence]
        manifest = AcquisitionManifest(
            config=spec.model_dump(mode="json"), config_hash=config_hash(spec),
            input_hashes=_input_hashes(spec_file, plans),
            counts={"tiles": len(tiles), "fluorescence_channels": len(names),
                    "label_free_planes": len(plans[0].label_free)},
            paths={"tiles": [path for tile in tiles for path in tile.files.values()]},
            acquisition_id=spec.acquisition_id, condition=spec.condition, source="ingested",
            pixel_size_um=spec.pixel_size_um, label_free_modality=spec.label_free.modality, channels=channels,
            tile_size_yx=plans[0].shape, overlap=overlap, tiles=tiles,
        )
        write_manifest(manifest, staging)
    return manifest
