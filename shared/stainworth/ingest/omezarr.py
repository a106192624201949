"""Reading OME-Zarr HCS plates (OME-NGFF 0.4 and 0.5) with zarr 3, one plane at a time.

The layout is the one iohub, VisCy and Cytoland write: plate → row groups → well groups → position
(field) groups → multiscale arrays. NGFF 0.4 (zarr format 2) keeps the metadata in ``.zattrs``
(``plate``, ``well``, ``multiscales``, ``omero``); NGFF 0.5 (zarr format 3) keeps the same keys
under ``ome`` in ``zarr.json``. :func:`read_plate` reads metadata only; :func:`read_plane` reads
one (Y, X) plane of one channel of one position, or reduces its z-planes one z-chunk at a time, so
memory is bounded by one chunk and a few planes whatever the plate's size.

iohub itself is not used: every iohub release pins ``zarr<3``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import zarr

from stainworth.errors import InputDataError

UM_PER_UNIT = {
    "angstrom": 1e-4, "picometer": 1e-6, "nanometer": 1e-3, "micrometer": 1.0, "millimeter": 1e3,
    "centimeter": 1e4, "meter": 1e6,
}
"""Micrometres per NGFF space unit (the units a microscope image can have)."""
AXIS_NAMES = ("t", "c", "z", "y", "x")

ZChoice = int | Literal["middle", "mean", "max"]


@dataclass(frozen=True)
class PlatePosition:
    """What one position (field of view) of a well holds, from its metadata."""

    well: str
    """Well path, ``row/column`` (e.g. ``A/1``)."""
    name: str
    """Position path inside the well (e.g. ``0``)."""
    array_path: str
    """Full-resolution array inside the plate (``A/1/0/0``: the first multiscale dataset)."""
    axes: tuple[str, ...]
    """Lower-case axis names of the array, e.g. ``("t", "c", "z", "y", "x")``."""
    shape: tuple[int, ...]
    dtype: np.dtype
    channels: tuple[str, ...]
    """OMERO channel labels, in channel-axis order."""
    pixel_size_um: float | None
    """Y/X pixel size from the ``scale`` transforms, um; None when no unit says what it is."""
    pixel_size_note: str
    """Where ``pixel_size_um`` came from, or why it is missing (for messages)."""
    translation_yx_um: tuple[float, float] | None
    """Sum of the ``translation`` transforms on y and x (stage position), um; None without a length
    unit on y and x."""

    @property
    def path(self) -> str:
        """``row/column/position``."""
        return f"{self.well}/{self.name}"

    def size(self, axis: str) -> int:
        """Length of an axis (1 when the array has no such axis)."""
        return self.shape[self.axes.index(axis)] if axis in self.axes else 1


@dataclass(frozen=True)
class Plate:
    """An HCS plate's metadata: its wells and the positions of the wells that were read."""

    path: Path
    version: str
    """NGFF version (``0.4``, ``0.5``; ``unknown`` when the plate does not say)."""
    wells: tuple[str, ...]
    """Every well the plate lists (``row/column``)."""
    positions: dict[str, list[PlatePosition]]
    """Positions of the wells that were read, by well path."""


def _ome(group: zarr.Group) -> dict[str, Any]:
    """The NGFF attributes of a group: under ``ome`` (0.5) or at the top (0.4)."""
    attrs = dict(group.attrs)
    ome = attrs.get("ome")
    return dict(ome) if isinstance(ome, dict) else attrs


def open_plate(path: str | Path, *, field: str = "plate.path") -> zarr.Group:
    """Open a plate read-only and check it is an HCS plate.

    Raises
    ------
    InputDataError
        No such folder, not a zarr group, or a zarr group without ``plate`` metadata (an image
        or a well instead of the plate root).
    """
    source = Path(path)
    where = f"{source} (spec field {field})"
    if not source.is_dir():
        raise InputDataError(f"{where}: no such folder; expected an OME-Zarr HCS plate (a .zarr folder)")
    try:
        group = zarr.open_group(source, mode="r")
    except Exception as error:  # not a zarr store, damaged metadata
        raise InputDataError(f"{where}: not a zarr group ({type(error).__name__}: {error}); "
                             f"expected an OME-Zarr HCS plate") from None
    ome = _ome(group)
    if "plate" not in ome:
        found = ("an OME-Zarr image (multiscales), not a plate" if "multiscales" in ome
                 else "a well of a plate; give the plate's root folder" if "well" in ome
                 else f"a zarr group with attributes {sorted(ome) or 'none'}")
        raise InputDataError(f"{where}: found {found}; expected an OME-Zarr HCS plate with 'plate' metadata "
                             f"(NGFF 0.4 .zattrs or 0.5 zarr.json)")
    return group


def _axes(multiscale: dict[str, Any], where: str) -> tuple[tuple[str, ...], dict[str, str | None]]:
    names: list[str] = []
    units: dict[str, str | None] = {}
    for axis in multiscale.get("axes", []):
        name = (axis if isinstance(axis, str) else str(axis.get("name", ""))).lower()
        names.append(name)
        units[name] = None if isinstance(axis, str) else axis.get("unit")
    if not {"y", "x"} <= set(names) or not set(names) <= set(AXIS_NAMES) or len(set(names)) != len(names):
        raise InputDataError(f"{where}: multiscales axes {names}; expected distinct names among "
                             f"{list(AXIS_NAMES)} including y and x")
    return tuple(names), units


def _transforms(multiscale: dict[str, Any], axes: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Effective scale (product) and translation (sum) of the first dataset, per axis."""
    listed = list(multiscale["datasets"][0].get("coordinateTransformations", []))
    listed += list(multiscale.get("coordinateTransformations") or [])
    scale, translation = np.ones(len(axes)), np.zeros(len(axes))
    for transform in listed:
        if transform.get("type") == "scale" and len(transform.get("scale", [])) == len(axes):
            scale *= np.asarray(transform["scale"], dtype=float)
        elif transform.get("type") == "translation" and len(transform.get("translation", [])) == len(axes):
            translation += np.asarray(transform["translation"], dtype=float)
    return scale, translation


def _pixel_size(scale: np.ndarray, axes: tuple[str, ...], units: dict[str, str | None],
                where: str) -> tuple[float | None, str]:
    sizes = {}
    for axis in ("y", "x"):
        unit = units.get(axis)
        if unit not in UM_PER_UNIT:
            return None, f"axis {axis} has unit {unit!r}, not a length unit ({', '.join(UM_PER_UNIT)})"
        sizes[axis] = float(scale[axes.index(axis)]) * UM_PER_UNIT[str(unit)]
    if min(sizes.values()) <= 0 or abs(sizes["y"] / sizes["x"] - 1) > 0.01:
        raise InputDataError(f"{where}: scale gives pixels of {sizes['y']:g} um (y) x {sizes['x']:g} um (x); "
                             f"expected square, positive pixels")
    return sizes["x"], f"scale {sizes['x']:g} um"


def _translation_um(translation: np.ndarray, axes: tuple[str, ...],
                    units: dict[str, str | None]) -> tuple[float, float] | None:
    factors = [UM_PER_UNIT.get(str(units.get(axis))) for axis in ("y", "x")]
    if factors[0] is None or factors[1] is None:
        return None
    return (float(translation[axes.index("y")]) * factors[0], float(translation[axes.index("x")]) * factors[1])


def _position(plate: zarr.Group, root: Path, well: str, name: str) -> PlatePosition:
    where = f"{root}/{well}/{name}"
    try:
        group = plate[f"{well}/{name}"]
    except KeyError:
        raise InputDataError(f"{where}: the well lists position '{name}' but there is no such group") from None
    ome = _ome(group)  # type: ignore[arg-type]
    multiscales = ome.get("multiscales")
    if not multiscales or not multiscales[0].get("datasets"):
        raise InputDataError(f"{where}: no multiscales datasets; expected an OME-Zarr image per position")
    multiscale = multiscales[0]
    axes, units = _axes(multiscale, where)
    dataset = str(multiscale["datasets"][0]["path"])
    try:
        array = group[dataset]  # type: ignore[index]
    except KeyError:
        raise InputDataError(f"{where}: multiscales names dataset '{dataset}' but there is no such array") from None
    if not isinstance(array, zarr.Array) or array.ndim != len(axes):
        raise InputDataError(f"{where}/{dataset}: found {getattr(array, 'shape', 'a group')}; "
                             f"expected an array with axes {list(axes)}")
    if np.dtype(array.dtype).kind not in "uif":
        raise InputDataError(f"{where}/{dataset}: pixel type {array.dtype} is not supported; expected integer "
                             f"or real floating-point values")
    labels = [str(c.get("label", "")) for c in (ome.get("omero") or {}).get("channels", [])]
    if not labels:
        raise InputDataError(f"{where}: no omero.channels labels; expected channel names to choose channels by")
    if len(labels) != (array.shape[axes.index("c")] if "c" in axes else 1):
        raise InputDataError(f"{where}: {len(labels)} omero channel labels {labels} for an array of shape "
                             f"{array.shape} (axes {list(axes)}); expected one label per channel")
    scale, translation = _transforms(multiscale, axes)
    pixel, note = _pixel_size(scale, axes, units, where)
    return PlatePosition(
        well=well, name=name, array_path=f"{well}/{name}/{dataset}", axes=axes,
        shape=tuple(int(v) for v in array.shape), dtype=np.dtype(array.dtype), channels=tuple(labels),
        pixel_size_um=pixel, pixel_size_note=note,
        translation_yx_um=_translation_um(translation, axes, units),
    )


def read_plate(path: str | Path, wells: list[str], *, field: str = "plate.path") -> Plate:
    """Read a plate's metadata and that of the positions of ``wells`` (no pixels).

    Parameters
    ----------
    path
        Root folder of the plate.
    wells
        Well paths (``row/column``) whose positions to describe; each must be in the plate.
    field
        Spec field naming the plate, quoted in error messages.

    Returns
    -------
    Plate

    Raises
    ------
    InputDataError
        Not an HCS plate; a well that is not in the plate; a well or position group missing;
        positions without multiscales, y/x axes or OMERO channel labels.
    """
    root = Path(path)
    plate = open_plate(root, field=field)
    meta = _ome(plate)["plate"]
    listed = tuple(str(w.get("path", "")) for w in meta.get("wells", []))
    positions = {}
    for well in wells:
        if well not in listed:
            raise InputDataError(f"{root} (spec field plate.conditions): well '{well}' is not in the plate; "
                                 f"the plate has wells {list(listed)}")
        try:
            group = plate[well]
        except KeyError:
            raise InputDataError(f"{root}/{well}: listed in the plate metadata but there is no such group") from None
        images = (_ome(group).get("well") or {}).get("images", [])  # type: ignore[arg-type]
        if not images:
            raise InputDataError(f"{root}/{well}: no well.images; expected the well to list its positions")
        positions[well] = [_position(plate, root, well, str(image["path"])) for image in images]
    version = str(meta.get("version") or _ome(plate).get("version") or "unknown")
    return Plate(path=root, version=version, wells=listed, positions=positions)


def channel_index(position: PlatePosition, label: str, *, field: str, root: Path) -> int:
    """Index of the channel labelled ``label``.

    Raises
    ------
    InputDataError
        No channel of that label (the message lists the position's labels).
    """
    if label not in position.channels:
        raise InputDataError(f"{root}/{position.path} (spec field {field}): no channel '{label}'; the position has "
                             f"channels {list(position.channels)}")
    return position.channels.index(label)


def check_index(position: PlatePosition, axis: str, index: int, *, field: str, root: Path) -> None:
    """Check that ``index`` exists on ``axis`` of the position.

    Raises
    ------
    InputDataError
        Index past the end of the axis.
    """
    size = position.size(axis)
    if index >= size:
        raise InputDataError(f"{root}/{position.path} (spec field {field}): {axis} index {index} but the position "
                             f"has {size} {axis} plane(s); expected 0 to {size - 1}")


def read_plane(plate: zarr.Group, position: PlatePosition, *, channel: int, t: int, z: ZChoice,
               where: str) -> np.ndarray:
    """One (Y, X) plane of one channel: one z-plane, or a reduction over z read chunk by chunk.

    Parameters
    ----------
    plate
        The plate group (:func:`open_plate`).
    position
        The position (:func:`read_plate`).
    channel, t
        Channel and time indices (checked beforehand).
    z
        Z index, ``middle`` (plane n // 2), ``mean`` (float64) or ``max`` over all planes.
    where
        Position and spec field, quoted in error messages.

    Returns
    -------
    numpy.ndarray
        (Y, X) in the array's dtype (float64 for ``mean``).

    Raises
    ------
    InputDataError
        Unreadable chunks or NaN / infinite values.
    """
    array = plate[position.array_path]
    n_z, axes = position.size("z"), position.axes
    if z in ("mean", "max"):
        step = int(array.chunks[axes.index("z")]) if "z" in axes else 1  # type: ignore[union-attr]
        slabs = [(k, min(k + step, n_z)) for k in range(0, n_z, step)]
    else:
        k = n_z // 2 if z == "middle" else int(z)
        slabs = [(k, k + 1)]

    def slab(first: int, stop: int) -> np.ndarray:
        """(planes, Y, X) of z-planes first..stop-1: whole chunks along z, which zarr decodes anyway."""
        index = tuple({"t": t, "c": channel, "z": slice(first, stop)}.get(axis, slice(None)) for axis in axes)
        try:
            data = np.asarray(array[index])  # type: ignore[index]
        except Exception as error:  # missing or corrupt chunk files
            raise InputDataError(f"{where}: unreadable pixel data ({type(error).__name__}: {error})") from None
        data = data if "z" in axes else data[None]
        if data.dtype.kind == "f":
            bad = ~np.isfinite(data)
            if bad.any():
                k = int(np.flatnonzero(bad.any(axis=(1, 2)))[0])
                raise InputDataError(f"{where}: found {int(bad[k].sum())} NaN or infinite pixels in z-plane "
                                     f"{first + k}; expected finite values")
        return data

    result: np.ndarray | None = None
    for first, stop in slabs:
        data = slab(first, stop)
        if z == "mean":
            part = data.sum(axis=0, dtype=np.float64)
            result = part if result is None else result + part
        elif z == "max":
            part = data.max(axis=0)
            result = part if result is None else np.maximum(result, part, out=result)
        else:
            result = data[0]
    assert result is not None
    return result / n_z if z == "mean" else result
