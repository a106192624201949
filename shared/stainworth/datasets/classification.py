"""Classification dataset: single nuclei, masked and centred on a fixed black canvas.

Following the study: the image is multiplied by one nucleus's mask, the nucleus region is cut
out and placed on a black canvas (192 x 192 px in the study) so that the mask centroid sits at
the canvas centre, for label-free and fluorescence alike. Nuclei cut by the mosaic border or
too large for the canvas are skipped and counted. The usual sequence is :func:`measure_nuclei`
per mosaic, :func:`stainworth.datasets.outliers.filter_outliers` (IQR on nucleus area, per
condition), :func:`stainworth.datasets.splits.balance_and_split` (1:1 control/treated), then
:func:`write_classification_dataset`, which renders only the drawn nuclei and streams them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stainworth.datasets.label_boxes import band_rows_for, label_boxes, read_rows
from stainworth.datasets.mosaic import DEFAULT_BAND_ROWS, Mosaic, WindowReader
from stainworth.datasets.splits import CLASSES
from stainworth.datasets.stats import dataset_statistics
from stainworth.datasets.storage import Dataset, DatasetWriter
from stainworth.errors import ConfigError, InputDataError

STATUS_OK, STATUS_BORDER, STATUS_TOO_LARGE = "ok", "border", "too_large"


@dataclass(frozen=True)
class NucleiSet:
    """Nuclei of one mosaic: the measured table and the canvases of the usable ones.

    Attributes
    ----------
    table
        One row per labelled nucleus (see :func:`measure_nuclei`), skipped ones included.
    label_free, fluorescence
        (n, C, C) float32 canvases of the rows with ``status == "ok"``, in table order.
    mask
        (n, C, C) uint8 nucleus masks on the canvas.
    """

    table: pd.DataFrame
    label_free: np.ndarray
    fluorescence: np.ndarray
    mask: np.ndarray

    @property
    def skipped(self) -> dict[str, int]:
        """Number of skipped nuclei per reason (``border``, ``too_large``)."""
        counts = self.table["status"].value_counts()
        return {reason: int(counts.get(reason, 0)) for reason in (STATUS_BORDER, STATUS_TOO_LARGE)}


def _placement(canvas: int, local_centroid: tuple[float, float]) -> tuple[int, int]:
    """Canvas offset putting the local centroid on the canvas centre ((C - 1) / 2)."""
    centre = (canvas - 1) / 2.0
    return int(np.floor(centre - local_centroid[0] + 0.5)), int(np.floor(centre - local_centroid[1] + 0.5))


def _object_pixels(
    label_id: int, box: tuple[int, int, int, int], pieces: Iterable[tuple[int, int, np.ndarray]],
    lf: WindowReader, fl: WindowReader,
) -> tuple[int, tuple[float, float], np.ndarray, np.ndarray]:
    """Area, centroid inside the box and the image values under one object, read piece by piece.

    ``pieces`` yields ``(r0, r1, rows)``: the labels of rows ``r0:r1`` of the box's columns, top to
    bottom, covering the box. The values come out in row-major order, as from one window, so their
    sums are the same to the bit; the coordinate sums are integers and exact, so ``sum / area`` is
    numpy's mean of the pixel coordinates.
    """
    y0, _, x0, x1 = box
    area = sum_y = sum_x = 0
    lf_parts, fl_parts = [], []
    for r0, r1, rows in pieces:
        inside = rows == label_id
        yy, xx = np.nonzero(inside)
        area += int(yy.size)
        sum_y += int(yy.sum()) + (r0 - y0) * int(yy.size)
        sum_x += int(xx.sum())
        lf_parts.append(lf.read(r0, r1, x0, x1)[inside].astype(np.float64))
        fl_parts.append(fl.read(r0, r1, x0, x1)[inside].astype(np.float64))
    local = (float(np.float64(sum_y) / area), float(np.float64(sum_x) / area))
    return area, local, np.concatenate(lf_parts), np.concatenate(fl_parts)


def _box_in_bands(labels: Any, box: tuple[int, int, int, int], band: int) -> Iterator[tuple[int, int, np.ndarray]]:
    """The labels of a box, ``band`` rows at a time, as ``(r0, r1, rows)`` from top to bottom."""
    y0, y1, x0, x1 = box
    for r0 in range(y0, y1, band):
        r1 = min(y1, r0 + band)
        yield r0, r1, read_rows(labels, r0, r1, x0, x1)


def measure_nuclei(
    label_free: Any,
    fluorescence: Any,
    labels: Any,
    *,
    canvas: int = 192,
    condition: str | None,
    source_id: str = "mosaic",
    fluorescence_channel: int = 0,
    band_rows: int = DEFAULT_BAND_ROWS,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Per-nucleus features and canvas placement, without rendering canvases.

    Memory stays bounded by one band of the mosaic: a first pass reads the labels band by band
    for the bounding box of every id (over all its pixels, as :func:`scipy.ndimage.find_objects`
    over the whole image); a second pass measures each nucleus in the band where its box starts,
    read with ``canvas`` extra rows below, so every nucleus that could fit the canvas is whole.
    Taller objects (or ids with pixels far apart) are read over their box, ``band_rows`` rows at
    a time. The images are read window by window.

    Parameters
    ----------
    label_free, fluorescence, labels
        Registered mosaic triple, see :class:`stainworth.datasets.mosaic.Mosaic`.
    canvas
        Canvas side in px.
    condition
        ``"control"``, ``"treated"`` or None, recorded per nucleus.
    source_id
        Name of the mosaic, recorded per nucleus.
    fluorescence_channel
        Channel of a (C, Y, X) fluorescence mosaic (the nuclear marker).
    band_rows
        Rows of labels read at once (rounded up to whole zarr chunks of ``labels``); a band is
        read with ``canvas`` more rows below it. The table does not depend on it.
    progress
        Optional callback receiving short progress lines.

    Returns
    -------
    pandas.DataFrame
        Columns ``source, condition, label_id, status`` (``ok``, ``border``, ``too_large``),
        ``area_px, centroid_y, centroid_x, bbox_y0, bbox_x0, bbox_y1, bbox_x1`` (mosaic px,
        end exclusive), ``canvas_y0, canvas_x0`` (where the box lands on the canvas),
        ``fluorescence_integrated, fluorescence_mean, label_free_integrated, label_free_mean``
        (sums and means inside the mask). Rows are ordered by ``bbox_y0``, ``bbox_x0``.

    Raises
    ------
    InputDataError
        If the arrays are inconsistent or the labels hold no nucleus.
    ConfigError
        If ``condition``, ``canvas`` or ``band_rows`` is out of range.
    """
    if condition is not None and condition not in CLASSES:
        raise ConfigError(f"condition: found {condition!r}; expected one of {CLASSES} or None")
    if canvas < 1:
        raise ConfigError(f"canvas: found {canvas}; expected a positive number of pixels")
    mosaic = Mosaic(label_free, fluorescence, labels, fluorescence_channel=fluorescence_channel, source_id=source_id)
    band = band_rows_for(labels, band_rows)
    lf, fl, _ = mosaic.readers(band_rows=band)
    boxes = label_boxes(labels, band_rows=band)
    if not boxes:
        raise InputDataError(f"mosaic '{source_id}': labels hold no nuclei (every pixel is 0); "
                             f"expected at least one labelled nucleus")
    present = sorted(boxes.items(), key=lambda item: (item[1][0], item[1][2]))  # stable: ties by id
    height, width = mosaic.shape
    rows = []
    rows_read: np.ndarray | None = None
    band_y0 = read_y1 = 0
    for k, (label_id, (y0, y1, x0, x1)) in enumerate(present):
        if rows_read is None or y0 >= band_y0 + band:
            rows_read = None  # drop the previous band before reading the next
            band_y0 = y0 // band * band
            read_y1 = min(height, band_y0 + band + canvas)
            rows_read = read_rows(labels, band_y0, read_y1)
        box = (y0, y1, x0, x1)
        if y1 <= read_y1:
            measured = _object_pixels(label_id, box, [(y0, y1, rows_read[y0 - band_y0:y1 - band_y0, x0:x1])], lf, fl)
        else:  # taller than the canvas (cannot fit it), or an id in places far apart: its box in bands
            measured = _object_pixels(label_id, box, _box_in_bands(labels, box, band), lf, fl)
        area, local, lf_values, fl_values = measured
        oy, ox = _placement(canvas, local)
        fits = oy >= 0 and ox >= 0 and oy + (y1 - y0) <= canvas and ox + (x1 - x0) <= canvas
        border = y0 == 0 or x0 == 0 or y1 == height or x1 == width
        rows.append({
            "source": source_id, "condition": condition, "label_id": int(label_id),
            "status": STATUS_BORDER if border else (STATUS_OK if fits else STATUS_TOO_LARGE),
            "area_px": area, "centroid_y": y0 + local[0], "centroid_x": x0 + local[1],
            "bbox_y0": y0, "bbox_x0": x0, "bbox_y1": y1, "bbox_x1": x1, "canvas_y0": oy, "canvas_x0": ox,
            "fluorescence_integrated": float(fl_values.sum()), "fluorescence_mean": float(fl_values.mean()),
            "label_free_integrated": float(lf_values.sum()), "label_free_mean": float(lf_values.mean()),
        })
        if progress is not None and ((k + 1) % 1000 == 0 or k + 1 == len(present)):
            progress(f"measure {source_id} {k + 1}/{len(present)} nuclei")
    return pd.DataFrame(rows)


def render_nucleus(
    readers: tuple[WindowReader, WindowReader, WindowReader], row: Mapping[str, Any], *, canvas: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Label-free, fluorescence (float32) and mask (uint8) canvases of one measured nucleus."""
    lf, fl, lab = readers
    y0, y1, x0, x1 = (int(row[key]) for key in ("bbox_y0", "bbox_y1", "bbox_x0", "bbox_x1"))
    oy, ox = int(row["canvas_y0"]), int(row["canvas_x0"])
    inside = lab.read(y0, y1, x0, x1) == int(row["label_id"])
    target = (slice(oy, oy + y1 - y0), slice(ox, ox + x1 - x0))
    out_lf = np.zeros((canvas, canvas), np.float32)
    out_fl = np.zeros((canvas, canvas), np.float32)
    out_mask = np.zeros((canvas, canvas), np.uint8)
    out_lf[target] = np.where(inside, lf.read(y0, y1, x0, x1), 0)
    out_fl[target] = np.where(inside, fl.read(y0, y1, x0, x1), 0)
    out_mask[target] = inside
    return out_lf, out_fl, out_mask


def extract_nuclei(
    label_free: Any,
    fluorescence: Any,
    labels: Any,
    *,
    canvas: int = 192,
    condition: str | None,
    source_id: str = "mosaic",
    fluorescence_channel: int = 0,
) -> NucleiSet:
    """Measure every nucleus of one mosaic and render the usable ones in memory.

    For large mosaics prefer :func:`measure_nuclei` + :func:`write_classification_dataset`,
    which render only the drawn nuclei and stream them to disk. Parameters as in
    :func:`measure_nuclei`.

    Returns
    -------
    NucleiSet
        Table of all nuclei and (n_ok, canvas, canvas) arrays of those with ``status == "ok"``.
    """
    table = measure_nuclei(label_free, fluorescence, labels, canvas=canvas, condition=condition,
                           source_id=source_id, fluorescence_channel=fluorescence_channel)
    readers = Mosaic(label_free, fluorescence, labels, fluorescence_channel=fluorescence_channel,
                     source_id=source_id).readers()
    ok = table[table["status"] == STATUS_OK]
    out_lf = np.zeros((len(ok), canvas, canvas), np.float32)
    out_fl = np.zeros((len(ok), canvas, canvas), np.float32)
    out_mask = np.zeros((len(ok), canvas, canvas), np.uint8)
    for k, row in enumerate(ok.to_dict("records")):
        out_lf[k], out_fl[k], out_mask[k] = render_nucleus(readers, row, canvas=canvas)
    return NucleiSet(table=table, label_free=out_lf, fluorescence=out_fl, mask=out_mask)


def write_classification_dataset(
    out_group: str | Path,
    table: pd.DataFrame,
    sources: Mapping[str, Mosaic],
    *,
    canvas: int = 192,
    chunk: int = 64,
    seed: int = 0,
    attrs: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Dataset:
    """Render the drawn nuclei split by split and write the classification dataset (streamed).

    Parameters
    ----------
    out_group
        Dataset directory to create (must not exist or be empty).
    table
        Output of :func:`stainworth.datasets.splits.balance_and_split`: measured nuclei with
        ``split`` and ``label`` columns. Stored in that order (split, source, position); the
        table is saved as ``items.csv`` with ``index`` (position inside its split).
    sources
        The mosaic of every ``source`` named in the table (label-free, fluorescence, labels).
    canvas
        Canvas side in px; must match the one the table was measured with.
    chunk
        Items per zarr chunk.
    seed
        Seed of the pixel sample behind the percentile statistics.
    attrs
        Extra attributes to store (pixel size, modality, IQR settings, seeds...).
    progress
        Optional callback receiving lines such as ``"classification train 640/1000"``.

    Returns
    -------
    Dataset
        The opened dataset; ``stats`` holds the normalisation statistics of ``train`` (or the
        first split).

    Raises
    ------
    InputDataError
        If the table names a source that is not given.
    """
    absent = [column for column in ("split", "label", "source", "label_id") if column not in table.columns]
    if absent:
        raise ConfigError(f"table lacks columns {absent}; expected the output of balance_and_split")
    missing = sorted(set(table["source"]) - set(sources))
    if missing:
        raise InputDataError(f"table names sources {missing} but only {sorted(sources)} were given")
    names = list(dict.fromkeys(table["split"]))
    order = sorted(sources)
    stored = table.copy()
    stored["index"] = stored.groupby("split", sort=False).cumcount()
    readers = {name: mosaic.readers() for name, mosaic in sources.items()}
    with DatasetWriter(out_group, kind="classification", item_shape=(canvas, canvas),
                       counts={name: int((table["split"] == name).sum()) for name in names},
                       chunk=chunk, labelled=True) as writer:
        for name in names:
            split = writer.split(name)
            rows = stored[stored["split"] == name].to_dict("records")
            for k, row in enumerate(rows):
                if k and row["source"] != rows[k - 1]["source"]:
                    for reader in readers[rows[k - 1]["source"]]:
                        reader.clear()  # bound memory to one mosaic's band
                lf, fl, mask = render_nucleus(readers[row["source"]], row, canvas=canvas)
                split.add(label_free=lf, fluorescence=fl, mask=mask,
                          positions=np.array([row["bbox_y0"], row["bbox_x0"]], dtype=np.int64),
                          source=np.uint16(order.index(row["source"])), label=np.uint8(row["label"]))
                if progress is not None and ((k + 1) % (16 * chunk) == 0 or k + 1 == len(rows)):
                    progress(f"classification {name} {k + 1}/{len(rows)}")
            split.close()
        stats = dataset_statistics(writer.arrays, names, chunk=chunk, seed=seed)
        return writer.publish(sources=order, stats=stats, table=stored, attrs={"canvas": canvas, **dict(attrs or {})})
