"""Registered mosaic triples (label-free, fluorescence, nucleus labels) and windowed reading.

Extraction reads only the windows it needs. Inputs may be in-memory arrays or zarr arrays of
mosaic size; for zarr arrays a band of rows is decoded once and reused by every window inside
it, so callers that visit windows in row order decode each chunk about once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from stainworth.errors import InputDataError

DEFAULT_BAND_ROWS = 1024
"""Rows decoded at once from a zarr mosaic (grown when a window is taller)."""


def _shape(array: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in array.shape)


@dataclass(frozen=True)
class Mosaic:
    """One registered field: label-free image, fluorescence and nucleus instance labels.

    Parameters
    ----------
    label_free
        (Y, X) label-free image (QPI in rad, or a.u. for phase contrast / DIC), any real dtype;
        ``numpy.ndarray`` or ``zarr.Array``.
    fluorescence
        (Y, X) or (C, Y, X) fluorescence registered onto ``label_free``.
    labels
        (Y, X) integer nucleus instance labels, 0 is background.
    fluorescence_channel
        Channel of a (C, Y, X) ``fluorescence`` used for the datasets (the nuclear marker).
    source_id
        Name recorded with every item extracted from this mosaic.

    Raises
    ------
    InputDataError
        If the arrays differ in size, have the wrong number of dimensions, or the labels are not
        integers.
    """

    label_free: Any
    fluorescence: Any
    labels: Any
    fluorescence_channel: int = 0
    source_id: str = "mosaic"

    def __post_init__(self) -> None:
        where = f"mosaic '{self.source_id}'"
        lf, fl, lab = _shape(self.label_free), _shape(self.fluorescence), _shape(self.labels)
        if len(lf) != 2:
            raise InputDataError(f"{where}: label-free image has shape {lf}; expected 2-D (Y, X)")
        if len(lab) != 2:
            raise InputDataError(f"{where}: labels have shape {lab}; expected 2-D (Y, X)")
        if len(fl) not in (2, 3):
            raise InputDataError(f"{where}: fluorescence has shape {fl}; expected (Y, X) or (C, Y, X)")
        if len(fl) == 3 and not 0 <= self.fluorescence_channel < fl[0]:
            raise InputDataError(f"{where}: fluorescence_channel {self.fluorescence_channel} is out of "
                                 f"range for {fl[0]} fluorescence channels")
        if fl[-2:] != lf or lab != lf:
            raise InputDataError(
                f"{where}: label-free {lf[0]}x{lf[1]}, fluorescence {fl[-2]}x{fl[-1]} and labels "
                f"{lab[0]}x{lab[1]} px differ in size; expected one registered size "
                f"(register the fluorescence onto the label-free image first)")
        if np.dtype(self.labels.dtype).kind not in "ui":
            raise InputDataError(f"{where}: labels have dtype {self.labels.dtype}; expected integers")

    @property
    def shape(self) -> tuple[int, int]:
        """(Y, X) size of the mosaic in px."""
        y, x = _shape(self.label_free)
        return y, x

    def readers(self, *, band_rows: int = DEFAULT_BAND_ROWS) -> tuple[WindowReader, WindowReader, WindowReader]:
        """Window readers for label-free, fluorescence (selected channel) and labels."""
        channel = self.fluorescence_channel if len(_shape(self.fluorescence)) == 3 else None
        return (WindowReader(self.label_free, band_rows=band_rows),
                WindowReader(self.fluorescence, channel=channel, band_rows=band_rows),
                WindowReader(self.labels, band_rows=band_rows))


class WindowReader:
    """Read (y0:y1, x0:x1) windows of a 2-D array or one channel of a (C, Y, X) array.

    Parameters
    ----------
    array
        ``numpy.ndarray`` (sliced directly, no copy) or any array with numpy-style slicing
        (``zarr.Array``: a band of rows is decoded and cached).
    channel
        Channel index for a (C, Y, X) array; None for a 2-D array.
    band_rows
        Rows decoded at once for non-numpy arrays.
    """

    def __init__(self, array: Any, *, channel: int | None = None, band_rows: int = DEFAULT_BAND_ROWS) -> None:
        self.array = array
        self.channel = channel
        self.band_rows = int(band_rows)
        self.height = _shape(array)[-2]
        self._band: np.ndarray | None = None
        self._band_y0 = 0

    def read(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """The window ``[y0:y1, x0:x1]`` as a numpy array (a view for numpy input)."""
        if isinstance(self.array, np.ndarray):
            source = self.array if self.channel is None else self.array[self.channel]
            return source[y0:y1, x0:x1]
        band = self._band
        if band is None or y0 < self._band_y0 or y1 > self._band_y0 + band.shape[0]:
            stop = min(self.height, y0 + max(self.band_rows, y1 - y0))
            rows = slice(y0, stop)
            band = self._band = None  # the old band goes before the new one is decoded
            band = np.asarray(self.array[rows] if self.channel is None else self.array[self.channel, rows])
            self._band, self._band_y0 = band, y0
        return band[y0 - self._band_y0:y1 - self._band_y0, x0:x1]

    def clear(self) -> None:
        """Drop the cached band (call when moving on to another mosaic)."""
        self._band = None

    def full(self) -> np.ndarray:
        """The whole 2-D array (read into memory for non-numpy input)."""
        if isinstance(self.array, np.ndarray):
            return self.array if self.channel is None else self.array[self.channel]
        return np.asarray(self.array[:] if self.channel is None else self.array[self.channel])
