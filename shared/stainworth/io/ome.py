"""OME-TIFF reading and writing with physical pixel size and channel names."""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile

from stainworth import __version__
from stainworth.errors import InputDataError

_UUID_NAMESPACE = uuid.UUID("6f1c2a8e-3b1d-4f0e-9a57-5d1e2c0b7a41")


@dataclass(frozen=True)
class OmeImage:
    """An image read from an OME-TIFF file."""

    data: np.ndarray
    axes: str
    pixel_size_um: float | None
    channel_names: list[str]


def write_ome_tiff(
    path: str | Path,
    data: np.ndarray,
    *,
    axes: str,
    pixel_size_um: float,
    channel_names: list[str] | None = None,
    compress: bool = False,
) -> Path:
    """Write an array as OME-TIFF with pixel size metadata, atomically.

    Parameters
    ----------
    path
        Target file (``*.ome.tif``); written to a temporary name first, then renamed.
    data
        Array of shape matching ``axes`` (``"YX"`` or ``"CYX"``).
    axes
        OME axes string.
    pixel_size_um
        Physical pixel size in micrometres (same in X and Y).
    channel_names
        One name per channel when ``axes`` starts with ``C``.
    compress
        Use zlib compression (worth it for label images, not for noisy floats).

    Notes
    -----
    The OME UUID is derived from the file name and the pixel data, so writing the same data
    twice gives the same bytes (content hashes of outputs are reproducible).
    """
    if data.ndim != len(axes):
        raise ValueError(f"data has {data.ndim} dimensions but axes '{axes}' has {len(axes)}")
    metadata: dict[str, object] = {
        "axes": axes,
        "PhysicalSizeX": float(pixel_size_um),
        "PhysicalSizeXUnit": "µm",
        "PhysicalSizeY": float(pixel_size_um),
        "PhysicalSizeYUnit": "µm",
        "Creator": f"stainworth {__version__}",
    }
    if channel_names is not None:
        if not axes.startswith("C") or len(channel_names) != data.shape[0]:
            raise ValueError(f"{len(channel_names)} channel names for data of shape {data.shape}")
        metadata["Channel"] = {"Name": list(channel_names)}
    target = Path(path)
    digest = hashlib.sha256(np.ascontiguousarray(data).tobytes()).hexdigest()
    metadata["UUID"] = str(uuid.uuid5(_UUID_NAMESPACE, f"{target.name}:{data.dtype}:{data.shape}:{digest}"))
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(target.name + ".tmp")
    tifffile.imwrite(
        temporary,
        data,
        ome=True,
        photometric="minisblack",
        metadata=metadata,
        compression="zlib" if compress else None,
    )
    os.replace(temporary, target)
    return target


def read_ome_tiff(path: str | Path) -> OmeImage:
    """Read an OME-TIFF file with its axes, pixel size and channel names."""
    source = Path(path)
    if not source.is_file():
        raise InputDataError(f"{source}: no such image file")
    try:
        with tifffile.TiffFile(source) as tif:
            if not tif.series:
                raise ValueError("no image in the file: tifffile found no pages")
            series = tif.series[0]
            data = series.asarray(squeeze=False)
            full_axes = series.get_axes(False)
            pixel_size, names = _ome_metadata(tif)
            data, axes = _drop_singleton_axes(data, full_axes, keep="C" if names else "")
    except (tifffile.TiffFileError, ValueError) as error:
        raise InputDataError(f"{source}: not a readable TIFF ({error})") from None
    return OmeImage(data=data, axes=axes, pixel_size_um=pixel_size, channel_names=names)


def _drop_singleton_axes(data: np.ndarray, axes: str, *, keep: str) -> tuple[np.ndarray, str]:
    """Squeeze length-1 axes except Y, X and those in ``keep`` (a one-channel CYX stays CYX)."""
    drop = [i for i, (axis, size) in enumerate(zip(axes, data.shape, strict=True))
            if size == 1 and axis not in "YX" + keep]
    kept = "".join(axis for i, axis in enumerate(axes) if i not in drop)
    return data.squeeze(axis=tuple(drop)) if drop else data, kept


def _ome_metadata(tif: tifffile.TiffFile) -> tuple[float | None, list[str]]:
    if not tif.is_ome or tif.ome_metadata is None:
        return None, []
    pixels = tifffile.xml2dict(tif.ome_metadata)["OME"]["Image"]
    pixels = pixels[0] if isinstance(pixels, list) else pixels
    pixels = pixels["Pixels"]
    size = pixels.get("PhysicalSizeX")
    channels = pixels.get("Channel", [])
    channels = channels if isinstance(channels, list) else [channels]
    names = [str(channel.get("Name", "")) for channel in channels if channel.get("Name")]
    return (float(size) if size is not None else None), names
