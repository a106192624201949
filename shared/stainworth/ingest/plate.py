"""Ingest an OME-Zarr HCS plate: the positions of the listed wells into acquisition folders.

``layout: fields`` makes every position of a listed well one acquisition (one 1 x 1 tile),
``<acquisition_id>-<row><column>-<position>``; ``layout: tiles`` makes every listed well one tiled
acquisition, ``<acquisition_id>-<row><column>``, whose tiles are its positions placed by their
``translation`` transform (the stage position) divided by the pixel size. The condition of a well
comes from the spec's ``plate.conditions``; wells not listed there are skipped (and reported).

Every position's metadata is read and checked (channels by OMERO label, t and z indices, one pixel
size across the plate, one plane size per tiled well, overlapping tiles) before any pixels are
read; pixels are then read plane by plane, position by position, into a staging folder that is
renamed into place after the last manifest is written, so bad input leaves nothing behind.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import zarr

from stainworth.contracts.acquisition import AcquisitionManifest, ChannelInfo, Condition, TileInfo
from stainworth.contracts.base import canonical_json, config_hash, file_sha256
from stainworth.contracts.manifest import write_manifest
from stainworth.errors import ConfigError, InputDataError
from stainworth.ingest.ingest import nominal_overlap, staged_folder
from stainworth.ingest.omezarr import (
    Plate,
    PlatePosition,
    channel_index,
    check_index,
    open_plate,
    read_plane,
    read_plate,
)
from stainworth.ingest.spec import PlateIngestSpec, load_ingest_spec
from stainworth.io.ome import write_ome_tiff


@dataclass(frozen=True)
class PositionPlan:
    """One position as one tile: which channels to read and where the tile goes."""

    position: PlatePosition
    row: int
    col: int
    position_yx: tuple[int, int]
    label_free: int
    """Channel index of the label-free image."""
    fluorescence: tuple[int, ...]
    """Channel index of each fluorescence channel, in spec order."""

    @property
    def shape(self) -> tuple[int, int]:
        """(Y, X) of the position."""
        return self.position.size("y"), self.position.size("x")


@dataclass(frozen=True)
class AcquisitionPlan:
    """One acquisition to write: a position (``fields``) or a well (``tiles``)."""

    acquisition_id: str
    well: str
    condition: Condition | None
    tiles: list[PositionPlan]
    overlap: float


def _channels(spec: PlateIngestSpec, position: PlatePosition, root: Path) -> tuple[int, tuple[int, ...]]:
    label_free = channel_index(position, spec.label_free.channel, field="label_free.channel", root=root)
    fluorescence = tuple(channel_index(position, channel.channel, field=f"fluorescence[{k}].channel", root=root)
                         for k, channel in enumerate(spec.fluorescence))
    check_index(position, "t", spec.plate.t, field="plate.t", root=root)
    zs: list[tuple[str, int | str]] = [("label_free.z", spec.label_free.z)]
    zs += [(f"fluorescence[{k}].z", channel.z) for k, channel in enumerate(spec.fluorescence)]
    for field, z in zs:
        if isinstance(z, int):
            check_index(position, "z", z, field=field, root=root)
    return label_free, fluorescence


def _pixel_size(spec: PlateIngestSpec, plate: Plate) -> float:
    """The spec's pixel size, or the plate's one (every read position must agree)."""
    if spec.pixel_size_um is not None:
        return spec.pixel_size_um
    first: PlatePosition | None = None
    for position in (position for positions in plate.positions.values() for position in positions):
        size = position.pixel_size_um
        if size is None:
            raise InputDataError(f"{plate.path}/{position.path}: no pixel size ({position.pixel_size_note}); "
                                 f"expected y/x axes with a length unit, or set the spec's pixel_size_um")
        if first is None or first.pixel_size_um is None:
            first = position
        elif abs(size / first.pixel_size_um - 1) > 0.01:
            raise InputDataError(
                f"{plate.path}/{position.path}: pixel size {size:g} um but {first.path} has "
                f"{first.pixel_size_um:g} um; expected one pixel size across the ingested wells (ingest wells "
                f"imaged at another magnification with their own spec)")
    assert first is not None and first.pixel_size_um is not None
    return first.pixel_size_um


def _grid(values: list[float], size: int) -> list[int]:
    """Row (or column) index of each tile: distinct positions more than half a tile apart, in order."""
    order = sorted(set(values))
    levels = [order[0]]
    for value in order[1:]:
        if value - levels[-1] > size / 2:
            levels.append(value)
    return [int(np.argmin([abs(value - level) for level in levels])) for value in values]


def _well_tiles(spec: PlateIngestSpec, plate: Plate, well: str, pixel: float) -> tuple[list[PositionPlan], float]:
    positions = plate.positions[well]
    plans = []
    for position in positions:
        label_free, fluorescence = _channels(spec, position, plate.path)
        plans.append(PositionPlan(position, 0, 0, (0, 0), label_free, fluorescence))
    if spec.plate.layout == "fields":
        return plans, 0.0
    shape = plans[0].shape
    for plan in plans:
        if plan.shape != shape:
            raise InputDataError(f"{plate.path}/{plan.position.path}: {plan.shape[0]}x{plan.shape[1]} px but "
                                 f"{plans[0].position.path} is {shape[0]}x{shape[1]} px; expected the tiles of a "
                                 f"well (layout: tiles) to have one size")
    yx = []
    for plan in plans:
        stage = plan.position.translation_yx_um
        if stage is None:
            raise InputDataError(f"{plate.path}/{plan.position.path}: its translation has no length unit (y/x axes "
                                 f"without one); expected stage positions in a length unit for layout: tiles")
        yx.append((round(stage[0] / pixel), round(stage[1] / pixel)))
    rows, cols = _grid([y for y, _ in yx], shape[0]), _grid([x for _, x in yx], shape[1])
    seen: dict[tuple[int, int], str] = {}
    for plan, row, col in zip(plans, rows, cols, strict=True):
        if (row, col) in seen:
            raise InputDataError(f"{plate.path}/{plan.position.path}: translation puts it on tile r{row} c{col} "
                                 f"with position {seen[(row, col)]}; expected the positions of a well (layout: "
                                 f"tiles) at distinct stage positions, or use layout: fields")
        seen[(row, col)] = plan.position.name
    origin = np.min(yx, axis=0)
    tiles = [PositionPlan(p.position, r, c, (int(y - origin[0]), int(x - origin[1])), p.label_free, p.fluorescence)
             for p, r, c, (y, x) in zip(plans, rows, cols, yx, strict=True)]
    tiles.sort(key=lambda tile: (tile.row, tile.col))
    overlap = nominal_overlap([(t.row, t.col, t.position_yx) for t in tiles], shape, spec.overlap)
    return tiles, overlap


def plan_plate(spec: PlateIngestSpec, base: Path) -> tuple[Plate, float, list[AcquisitionPlan]]:
    """Read the plate's metadata and check it against the spec; no pixels are read.

    Parameters
    ----------
    spec
        Validated plate spec.
    base
        Folder a relative ``plate.path`` resolves against (the YAML file's).

    Returns
    -------
    tuple
        The plate, its pixel size (um) and one plan per acquisition, in the order of
        ``plate.conditions`` and of the wells' positions.

    Raises
    ------
    InputDataError
        See :func:`ingest_plate`.
    """
    path = Path(spec.plate.path)
    plate = read_plate(path if path.is_absolute() else base / path, list(spec.plate.conditions))
    pixel = _pixel_size(spec, plate)
    acquisitions = []
    for well, condition in spec.plate.conditions.items():
        tiles, overlap = _well_tiles(spec, plate, well, pixel)
        stem = f"{spec.acquisition_id}-{well.replace('/', '')}"
        if spec.plate.layout == "tiles":
            acquisitions.append(AcquisitionPlan(stem, well, condition, tiles, overlap))
        else:
            acquisitions += [AcquisitionPlan(f"{stem}-{tile.position.name}", well, condition, [tile], 0.0)
                             for tile in tiles]
    return plate, pixel, acquisitions


def skipped_wells(spec: PlateIngestSpec, plate: Plate) -> list[str]:
    """The plate's wells that the spec does not list (not ingested)."""
    return [well for well in plate.wells if well not in spec.plate.conditions]


def _fluorescence_dtype(spec: PlateIngestSpec, plans: list[AcquisitionPlan]) -> str:
    dtypes = {tile.position.dtype for plan in plans for tile in plan.tiles}
    lossless = all(d.kind == "u" and d.itemsize <= 2 for d in dtypes)
    return "uint16" if lossless and all(c.z != "mean" for c in spec.fluorescence) else "float32"


def _read_tile(spec: PlateIngestSpec, group: zarr.Group, plate: Plate, tile: PositionPlan,
               dtype: str) -> tuple[np.ndarray, np.ndarray]:
    where = f"{plate.path}/{tile.position.path}"
    raw = read_plane(group, tile.position, channel=tile.label_free, t=spec.plate.t, z=spec.label_free.z,
                     where=f"{where} (spec field label_free)")
    label_free = (raw.astype(np.float64) * spec.label_free.scale + spec.label_free.offset).astype(np.float32)
    fluorescence = np.stack([
        read_plane(group, tile.position, channel=index, t=spec.plate.t, z=channel.z,
                   where=f"{where} (spec field fluorescence[{k}])").astype(dtype)
        for k, (index, channel) in enumerate(zip(tile.fluorescence, spec.fluorescence, strict=True))
    ])
    return label_free, fluorescence


def _write_acquisition(spec: PlateIngestSpec, spec_hash: str, group: zarr.Group, plate: Plate,
                       plan: AcquisitionPlan, pixel: float, dtype: str, folder: Path) -> AcquisitionManifest:
    names = [channel.name for channel in spec.fluorescence]
    tiles, hashes = [], {"spec": spec_hash}
    for tile in plan.tiles:
        label_free, fluorescence = _read_tile(spec, group, plate, tile, dtype)
        stem = f"tiles/r{tile.row:03d}_c{tile.col:03d}"
        files = {"label_free": f"{stem}_label_free.ome.tif", "fluorescence": f"{stem}_fluorescence.ome.tif"}
        write_ome_tiff(folder / files["label_free"], label_free, axes="YX", pixel_size_um=pixel)
        write_ome_tiff(folder / files["fluorescence"], fluorescence, axes="CYX", pixel_size_um=pixel,
                       channel_names=names)
        tiles.append(TileInfo(row=tile.row, col=tile.col, position_yx=tile.position_yx, files=files,
                              source=tile.position.path))
        digest = hashlib.sha256(canonical_json(tile.position.__dict__).encode())
        for array in (label_free, fluorescence):
            digest.update(np.ascontiguousarray(array).tobytes())
        hashes[f"plate:{tile.position.path}"] = digest.hexdigest()
    channels = [ChannelInfo(name="label_free", role="label_free", unit=spec.label_free.resolved_unit,
                            dtype="float32")]
    channels += [ChannelInfo(name=c.name, role="fluorescence", marker=c.marker, unit=c.unit, dtype=dtype)  # type: ignore[arg-type]
                 for c in spec.fluorescence]
    manifest = AcquisitionManifest(
        config=spec.model_dump(mode="json") | {"well": plan.well}, config_hash=config_hash(spec),
        input_hashes=hashes,
        counts={"tiles": len(tiles), "fluorescence_channels": len(names), "label_free_planes": 1},
        paths={"tiles": [path for tile in tiles for path in tile.files.values()]},
        acquisition_id=plan.acquisition_id, condition=plan.condition, source="ingested", pixel_size_um=pixel,
        label_free_modality=spec.label_free.modality, channels=channels, tile_size_yx=plan.tiles[0].shape,
        overlap=plan.overlap, tiles=tiles,
    )
    write_manifest(manifest, folder)
    return manifest


def ingest_plate(
    spec_path: str | Path, out_dir: str | Path, *, progress: Callable[[str], None] | None = None
) -> list[AcquisitionManifest]:
    """Turn the listed wells of an OME-Zarr HCS plate into acquisition folders.

    Parameters
    ----------
    spec_path
        Ingest YAML with a ``plate`` section (:class:`stainworth.ingest.spec.PlateIngestSpec`);
        a relative ``plate.path`` resolves against its folder.
    out_dir
        Folder to create (must not exist, or be empty); it receives one acquisition folder per
        acquisition, named by its id.
    progress
        Optional callback receiving lines such as ``"read 2/4 positions (plate1-A1-1)"`` and the
        skipped wells.

    Returns
    -------
    list of AcquisitionManifest
        One per acquisition (``source="ingested"``), in the order of ``plate.conditions`` and
        of the wells' positions.

    Raises
    ------
    ConfigError
        Invalid spec, or a spec that is not a plate spec.
    InputDataError
        Not an HCS plate; a listed well that is not in the plate; a channel label, t or z index
        that a position does not have; positions with different pixel sizes, or without a pixel
        size and no ``pixel_size_um`` in the spec; (``tiles``) positions of one well of different
        sizes, at one stage position or not overlapping; unreadable chunks, NaN / infinite pixels.
        Nothing is written.
    """
    spec_file, out = Path(spec_path), Path(out_dir)
    spec = load_ingest_spec(spec_file)
    if not isinstance(spec, PlateIngestSpec):
        raise ConfigError(f"{spec_file}: has no 'plate' section; expected an OME-Zarr plate spec "
                          f"(ingest TIFF / PNG files with ingest_acquisition)")
    plate, pixel, plans = plan_plate(spec, spec_file.parent)
    dtype = _fluorescence_dtype(spec, plans)
    skipped = skipped_wells(spec, plate)
    if skipped and progress is not None:
        progress(f"skipped wells not in plate.conditions: {', '.join(skipped)}")
    group = open_plate(plate.path)
    spec_hash = file_sha256(spec_file)
    manifests = []
    total = sum(len(plan.tiles) for plan in plans)
    done = 0
    with staged_folder(out) as staging:
        for plan in plans:
            manifests.append(_write_acquisition(spec, spec_hash, group, plate, plan, pixel, dtype,
                                                staging / plan.acquisition_id))
            done += len(plan.tiles)
            if progress is not None:
                progress(f"read {done}/{total} positions ({plan.acquisition_id})")
    return manifests
