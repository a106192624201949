"""Reading a lab's TIFF, OME-TIFF and PNG files, with validation that names the file and field.

Two steps: :func:`probe_image` reads only the header (format, shape, dtype, pixel size), so an
ingest can check every file before decoding any pixels; :func:`read_image` then decodes the
pixels and catches truncated or corrupt data and non-finite values. PNG is read with imageio
(Pillow), which keeps 16-bit grayscale as uint16.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import tifffile

from stainworth.errors import InputDataError

TIFF_SUFFIXES = (".tif", ".tiff")
PNG_SUFFIXES = (".png",)
SAMPLE_NAMES = {2: "gray+alpha", 3: "RGB", 4: "RGBA"}


@dataclass(frozen=True)
class ImageHeader:
    """What a file's header says about its pixels."""

    path: Path
    field: str
    """Spec field that named the file (for messages)."""
    shape: tuple[int, ...]
    """Shape with singleton axes removed."""
    dtype: np.dtype
    samples: int
    """Colour samples per pixel (1 for grayscale, 3 for RGB...)."""
    pixel_size_um: float | None


def _where(path: Path, field: str) -> str:
    return f"{path} (spec field {field})"


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _first_series(tif: tifffile.TiffFile, collector: _Collector) -> tifffile.TiffPageSeries:
    """The file's first image series; a ValueError naming what tifffile found when it has none."""
    if not tif.series:
        found = collector.messages[0] if collector.messages else "tifffile found no pages"
        raise ValueError(f"no image in the file ({found}); the file is damaged or not an image TIFF")
    return tif.series[0]


@contextlib.contextmanager
def _tifffile_errors() -> Iterator[_Collector]:
    """Collect tifffile's logged errors instead of printing them (they become the message)."""
    collector = _Collector()
    logger = logging.getLogger("tifffile")
    logger.addHandler(collector)
    propagate, logger.propagate = logger.propagate, False
    try:
        yield collector
    finally:
        logger.removeHandler(collector)
        logger.propagate = propagate


def _tiff_header(path: Path) -> tuple[tuple[int, ...], np.dtype, int, float | None]:
    with _tifffile_errors() as collector, tifffile.TiffFile(path) as tif:
        series = _first_series(tif, collector)
        shape, axes = tuple(int(v) for v in series.shape), series.axes
        samples = shape[axes.index("S")] if "S" in axes else 1
        pixel = None
        if tif.is_ome and tif.ome_metadata:
            image = tifffile.xml2dict(tif.ome_metadata)["OME"]["Image"]
            image = image[0] if isinstance(image, list) else image
            size = image.get("Pixels", {}).get("PhysicalSizeX")
            pixel = float(size) if size is not None else None
        return shape, np.dtype(series.dtype), samples, pixel


def _png_header(path: Path) -> tuple[tuple[int, ...], np.dtype, int, float | None]:
    props = iio.improps(path)
    shape = tuple(int(v) for v in props.shape)
    samples = shape[-1] if len(shape) == 3 and shape[-1] in SAMPLE_NAMES else 1
    return shape, np.dtype(props.dtype), samples, None


def probe_image(path: str | Path, *, field: str) -> ImageHeader:
    """Read a file's header and check it is a grayscale real-valued image or stack.

    Parameters
    ----------
    path
        TIFF (``.tif``, ``.tiff``, ``.ome.tif``) or PNG file.
    field
        Spec field naming the file, quoted in error messages.

    Raises
    ------
    InputDataError
        Missing or unreadable file, unsupported format, colour image, or a pixel type that is
        not an integer or real floating-point type (bool, complex...).
    """
    source = Path(path)
    where = _where(source, field)
    if not source.is_file():
        raise InputDataError(f"{where}: no such file")
    suffix = source.suffix.lower()
    if suffix not in TIFF_SUFFIXES + PNG_SUFFIXES:
        raise InputDataError(f"{where}: format '{suffix}' is not supported; expected TIFF, OME-TIFF or PNG")
    try:
        shape, dtype, samples, pixel = (_tiff_header if suffix in TIFF_SUFFIXES else _png_header)(source)
    except Exception as error:  # any decoder failure is the file's fault
        raise InputDataError(f"{where}: unreadable image ({type(error).__name__}: {error})") from None
    if samples > 1:
        kind = SAMPLE_NAMES.get(samples, f"{samples}-sample")
        raise InputDataError(f"{where}: found a {kind} colour image with {samples} samples per pixel; "
                             f"expected a single grayscale channel (save one channel per file)")
    if dtype.kind not in "uif":
        raise InputDataError(f"{where}: pixel type {dtype} is not supported; expected integer or real "
                             f"floating-point grayscale values")
    squeezed = tuple(v for v in shape if v != 1) or (1,)
    return ImageHeader(source, field, squeezed, dtype, samples, pixel)


def check_plane(header: ImageHeader, *, channels: int | None = None) -> None:
    """Check the header shape: (Y, X), or (C, Y, X) with ``channels`` channels when given.

    Raises
    ------
    InputDataError
        Wrong number of dimensions or channels.
    """
    where = _where(header.path, header.field)
    shape = header.shape
    if channels is None or channels == 1:
        if len(shape) != 2:
            extra = "; list z-planes or channels as separate files" if len(shape) == 3 else ""
            raise InputDataError(f"{where}: found an image of shape {shape}; expected one 2-D (Y, X) plane{extra}")
    elif len(shape) != 3 or shape[0] != channels:
        raise InputDataError(f"{where}: found shape {shape}; expected {channels} channels as (C, Y, X) "
                             f"in the order of the spec's fluorescence list")
    if min(shape[-2:]) < 16:
        raise InputDataError(f"{where}: found {shape[-2]}x{shape[-1]} px; expected an image of at least 16x16 px")


def _decode(header: ImageHeader) -> np.ndarray:
    if header.path.suffix.lower() in PNG_SUFFIXES:
        return np.asarray(iio.imread(header.path))
    with _tifffile_errors() as collector, tifffile.TiffFile(header.path) as tif:
        data = _first_series(tif, collector).asarray()
    if collector.messages:
        raise ValueError(collector.messages[0])
    return np.asarray(data)


def read_image(header: ImageHeader) -> np.ndarray:
    """Decode the pixels of a probed file and check them.

    Returns
    -------
    numpy.ndarray
        Pixels with singleton axes removed, in the file's dtype.

    Raises
    ------
    InputDataError
        Truncated or corrupt pixel data, a shape that differs from the header, or NaN / infinite
        values.
    """
    where = _where(header.path, header.field)
    try:
        data = _decode(header)
    except Exception as error:  # truncated strips, bad compression streams, ...
        raise InputDataError(f"{where}: unreadable or truncated pixel data ({type(error).__name__}: {error})") from None
    if data.size != int(np.prod(header.shape)):
        raise InputDataError(f"{where}: decoded {data.size} values but the header announces shape {header.shape}; "
                             f"the file is truncated or corrupt")
    data = data.reshape(header.shape)
    if data.dtype.kind == "f":
        finite = np.isfinite(data)
        if not finite.all():
            nan = int(np.isnan(data).sum())
            raise InputDataError(f"{where}: found {nan} NaN and {int(finite.size - finite.sum()) - nan} infinite "
                                 f"pixels; expected finite values")
    return data
