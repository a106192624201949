"""Pre-computed images of an external stainer, matched to the label-free tiles of the acquisitions.

Two sources, each checked whole before anything is read for staining (one line naming the field):

- **files** in the acquisitions' layout, ``<acquisition_id>/tiles/r<row>_c<col>_label_free.<suffix>``
  (any of :data:`IMAGE_SUFFIXES`): every tile has one, none is left over, each is the tile's size;
- an **OME-Zarr HCS plate** (VisCy's and Cytoland's prediction output): a tile ingested from a
  plate records its position (``TileInfo.source``, e.g. ``A/1/0``); the virtual plate's position of
  the same path gives its image, from the channel labelled ``channel`` and the z-plane (or
  projection) ``z``; every such position must exist and be the tile's size.

Each source gives one reader per tile, in the acquisition manifest's order, and a fingerprint of
the pixel data (the provenance recorded with the virtual datasets).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from stainworth.contracts.acquisition import AcquisitionManifest
from stainworth.errors import InputDataError
from stainworth.ingest.omezarr import ZChoice, channel_index, check_index, open_plate, read_plane, read_plate

IMAGE_SUFFIXES = (".ome.tif", ".ome.tiff", ".tif", ".tiff", ".png")
"""Suffixes a pre-computed image may have, in the order they are looked for."""

TileReader = Callable[[], np.ndarray]
"""Reads one tile's virtual image as (Y, X) float32."""


@dataclass
class TileImages:
    """One reader per tile of every acquisition, and the fingerprint of what they read."""

    readers: dict[str, list[TileReader]] = field(default_factory=dict)
    fingerprint: str = ""


def is_plate(folder: Path) -> bool:
    """Whether ``folder`` is an OME-Zarr group (``zarr.json`` or ``.zattrs`` at its root)."""
    return (folder / "zarr.json").is_file() or (folder / ".zattrs").is_file()


def file_tile_images(folder: Path, acquisitions: dict[str, AcquisitionManifest], *, where: str) -> TileImages:
    """The image files of every tile under ``folder/<acquisition_id>/``.

    One line when any is missing, left over, unreadable or of another size than its tile.
    """
    found = TileImages()
    digest = hashlib.sha256()
    for fid, acquisition in acquisitions.items():
        paths = [find_tile_image(folder / fid, tile.files["label_free"]) for tile in acquisition.tiles]
        missing = [tile.files["label_free"] for tile, path in zip(acquisition.tiles, paths, strict=True)
                   if path is None]
        if missing:
            raise InputDataError(f"{where}: {folder / fid} has no image for {len(missing)} of "
                                 f"{len(acquisition.tiles)} label-free tiles (first: {missing[0]}); expected one "
                                 "per tile, named like it")
        shape = (int(acquisition.tile_size_yx[0]), int(acquisition.tile_size_yx[1]))
        present = [path for path in paths if path is not None]
        for path in present:
            if tile_image_shape(path) != shape:
                raise InputDataError(f"{path}: image of shape {tile_image_shape(path)}; expected {shape}, the size "
                                     "of its label-free tile")
            digest.update(f"{fid}/{path.name}".encode())
            digest.update(file_hash(path).encode())
        extra = sorted(set(_image_files(folder / fid)) - set(present))
        if extra:
            raise InputDataError(f"{where}: {extra[0]} matches no label-free tile of acquisition '{fid}' "
                                 f"({len(extra)} such files); expected one image per tile, named like it")
        found.readers[fid] = [partial(read_tile_image, path, shape) for path in present]
    unknown = sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name not in acquisitions) \
        if folder.is_dir() else []
    if unknown:
        raise InputDataError(f"{where}: folder '{unknown[0]}' in {folder} is not an acquisition of this dataset "
                             f"(its acquisitions: {', '.join(sorted(acquisitions))})")
    found.fingerprint = digest.hexdigest()
    return found


def plate_tile_images(root: Path, acquisitions: dict[str, AcquisitionManifest], *, channel: str | None, z: ZChoice,
                      where: str) -> TileImages:
    """The positions of the plate ``root`` matching the tiles ingested from a plate.

    Every plane is read once here (its shape and finite values checked, its bytes fingerprinted).
    """
    if channel is None:
        raise InputDataError(f"{where}: {root} is an OME-Zarr plate; name the channel of the virtual stain "
                             "(stain.external[...].channel)")
    sources = {fid: [tile.source for tile in acquisition.tiles] for fid, acquisition in acquisitions.items()}
    unmatched = [fid for fid, paths in sources.items() if any(path is None for path in paths)]
    if unmatched:
        raise InputDataError(f"{where}: acquisition '{unmatched[0]}' was not ingested from an OME-Zarr plate (its "
                             "tiles name no plate position); give its images as files instead")
    wells = sorted({str(path).rsplit("/", 1)[0] for paths in sources.values() for path in paths})
    plate = read_plate(root, wells, field=where)
    positions = {position.path: position for listed in plate.positions.values() for position in listed}
    group = open_plate(root, field=where)
    found = TileImages()
    digest = hashlib.sha256()
    for fid, acquisition in acquisitions.items():
        shape = (int(acquisition.tile_size_yx[0]), int(acquisition.tile_size_yx[1]))
        readers: list[TileReader] = []
        for tile in acquisition.tiles:
            position = positions.get(str(tile.source))
            if position is None:
                raise InputDataError(f"{where}: {root} has no position '{tile.source}' (tile r{tile.row} c{tile.col} "
                                     f"of acquisition '{fid}')")
            here = f"{root}/{position.path}"
            index = channel_index(position, channel, field=f"{where} channel", root=root)
            if isinstance(z, int):
                check_index(position, "z", z, field=f"{where} z", root=root)
            size = (position.size("y"), position.size("x"))
            if size != shape:
                raise InputDataError(f"{here}: image of shape {size}; expected {shape}, the size of its label-free "
                                     f"tile (acquisition '{fid}')")
            read = partial(_plate_plane, group, position, index, z, f"{here} ({where})")
            digest.update(position.path.encode())
            digest.update(np.ascontiguousarray(read()).tobytes())
            readers.append(read)
        found.readers[fid] = readers
    found.fingerprint = digest.hexdigest()
    return found


def _plate_plane(group: object, position: object, channel: int, z: ZChoice, where: str) -> np.ndarray:
    plane = read_plane(group, position, channel=channel, t=0, z=z, where=where)  # type: ignore[arg-type]
    return np.asarray(plane, dtype=np.float32)


def _image_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return [path for path in folder.rglob("*") if path.is_file() and not path.name.startswith(".")]


def file_hash(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find_tile_image(folder: Path, label_free_file: str) -> Path | None:
    """The pre-computed image of a tile whose label-free file is ``label_free_file`` (relative), if any."""
    relative = Path(label_free_file)
    stem = relative.name
    for suffix in sorted(IMAGE_SUFFIXES, key=len, reverse=True):
        if stem.lower().endswith(suffix):
            stem = stem[:-len(suffix)]
            break
    for suffix in IMAGE_SUFFIXES:
        candidate = folder / relative.parent / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def tile_image_shape(path: Path) -> tuple[int, ...]:
    """The (Y, X) shape of a pre-computed image from its header (leading axes of length 1 dropped)."""
    try:
        if path.suffix.lower() == ".png":
            from PIL import Image

            with Image.open(path) as image:
                shape: tuple[int, ...] = (image.height, image.width) + ((len(image.getbands()),)
                                                                        if len(image.getbands()) > 1 else ())
        else:
            import tifffile

            with tifffile.TiffFile(path) as tif:
                shape = tuple(int(v) for v in tif.series[0].shape)
    except Exception as error:  # noqa: BLE001 - unreadable user files are bad input, whatever the reader raises
        raise InputDataError(f"{path}: not a readable image ({str(error).strip().splitlines()[0]})") from None
    while len(shape) > 2 and shape[0] == 1:
        shape = shape[1:]
    return shape


def read_tile_image(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """One pre-computed image as (Y, X) float32; one line if it is unreadable, not one plane, or of another size."""
    try:
        if path.suffix.lower() == ".png":
            from PIL import Image

            data = np.asarray(Image.open(path))
        else:
            import tifffile

            data = tifffile.imread(path)
    except Exception as error:  # noqa: BLE001 - unreadable user files are bad input, whatever the reader raises
        raise InputDataError(f"{path}: not a readable image ({str(error).strip().splitlines()[0]})") from None
    data = np.asarray(data)
    while data.ndim > 2 and data.shape[0] == 1:
        data = data[0]
    if data.shape != tuple(shape):
        raise InputDataError(f"{path}: image of shape {data.shape}; expected {tuple(shape)}, the size of its "
                             "label-free tile")
    return data.astype(np.float32, copy=False)
