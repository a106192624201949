"""measure_nuclei reads the labels band by band and gives exactly the table of a whole-image read."""

import numpy as np
import pandas as pd
import pytest
import zarr
from scipy import ndimage

from stainworth.datasets import Mosaic, measure_nuclei
from stainworth.datasets.label_boxes import band_rows_for, label_boxes
from stainworth.errors import ConfigError, InputDataError

CANVAS = 12


def reference_measure_nuclei(label_free, fluorescence, labels, *, canvas, condition, source_id="mosaic",
                             fluorescence_channel=0, progress=None):
    """The whole-image algorithm measure_nuclei replaced: labels read whole, one find_objects."""
    mosaic = Mosaic(label_free, fluorescence, labels, fluorescence_channel=fluorescence_channel, source_id=source_id)
    lf, fl, lab = mosaic.readers()
    label_image = lab.full()
    present = [(k + 1, box) for k, box in enumerate(ndimage.find_objects(label_image)) if box is not None]
    present.sort(key=lambda item: (item[1][0].start, item[1][1].start))
    height, width = mosaic.shape
    centre = (canvas - 1) / 2.0
    rows = []
    for k, (label_id, (ys, xs)) in enumerate(present):
        y0, y1, x0, x1 = ys.start, ys.stop, xs.start, xs.stop
        inside = label_image[y0:y1, x0:x1] == label_id
        area = int(inside.sum())
        yy, xx = np.nonzero(inside)
        local = (float(yy.mean()), float(xx.mean()))
        oy, ox = int(np.floor(centre - local[0] + 0.5)), int(np.floor(centre - local[1] + 0.5))
        fits = oy >= 0 and ox >= 0 and oy + (y1 - y0) <= canvas and ox + (x1 - x0) <= canvas
        border = y0 == 0 or x0 == 0 or y1 == height or x1 == width
        lf_values = lf.read(y0, y1, x0, x1)[inside].astype(np.float64)
        fl_values = fl.read(y0, y1, x0, x1)[inside].astype(np.float64)
        rows.append({
            "source": source_id, "condition": condition, "label_id": int(label_id),
            "status": "border" if border else ("ok" if fits else "too_large"),
            "area_px": area, "centroid_y": y0 + local[0], "centroid_x": x0 + local[1],
            "bbox_y0": y0, "bbox_x0": x0, "bbox_y1": y1, "bbox_x1": x1, "canvas_y0": oy, "canvas_x0": ox,
            "fluorescence_integrated": float(fl_values.sum()), "fluorescence_mean": float(fl_values.mean()),
            "label_free_integrated": float(lf_values.sum()), "label_free_mean": float(lf_values.mean()),
        })
        if progress is not None and ((k + 1) % 1000 == 0 or k + 1 == len(present)):
            progress(f"measure {source_id} {k + 1}/{len(present)} nuclei")
    return pd.DataFrame(rows)


def random_field(seed, shape=(97, 61), dtype=np.uint32):
    """Labels with blobs of every kind, plus a float32 label-free image and 2-channel uint16 fluorescence.

    Ellipses and rectangles (some painted over others, so cut into pieces), ids drawn sparsely from
    a wide range, objects on the mosaic border, objects taller than the canvas and bands, and ids
    painted in two places with a gap between them.
    """
    rng = np.random.default_rng(seed)
    height, width = shape
    labels = np.zeros(shape, dtype)
    yy, xx = np.mgrid[:height, :width]
    ids = rng.choice(np.arange(1, 5000), size=60, replace=False)
    for label_id in ids[:40]:  # nuclei, some crossing the border
        cy, cx = rng.uniform(-2, height + 2), rng.uniform(-2, width + 2)
        ry, rx = rng.uniform(0.5, 7), rng.uniform(0.5, 7)
        if rng.random() < 0.7:
            labels[((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1] = label_id
        else:
            labels[max(0, int(cy - ry)):int(cy + ry) + 1, max(0, int(cx - rx)):int(cx + rx) + 1] = label_id
    for label_id in ids[40:45]:  # tall: longer than the canvas plus several bands
        y0, x0 = rng.integers(0, height // 3), rng.integers(0, width - 4)
        tall = rng.integers(CANVAS + 2, height - y0 + 1)
        labels[y0:y0 + tall, x0:x0 + rng.integers(1, 4)] = label_id
    for label_id in ids[45:52]:  # one id in two places far apart
        for _ in range(2):
            cy, cx = rng.integers(0, height - 4), rng.integers(0, width - 4)
            labels[cy:cy + rng.integers(1, 5), cx:cx + rng.integers(1, 5)] = label_id
    labels[rng.random(shape) < 0.01] = ids[52]  # scattered single pixels of one id
    label_free = rng.normal(0.3, 1.7, shape).astype(np.float32) * np.float32(np.pi)
    fluorescence = rng.integers(0, 60000, (2, *shape)).astype(np.uint16)
    return label_free, fluorescence, labels


def as_zarr(array, chunk_rows, chunk_cols=16):
    chunks = array.shape[:-2] + (chunk_rows, chunk_cols)
    stored = zarr.create_array(store={}, shape=array.shape, chunks=chunks, dtype=array.dtype)
    stored[...] = array
    return stored


def assert_same_table(found, expected):
    pd.testing.assert_frame_equal(found, expected, check_exact=True)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("band_rows", [1, 5, 16, 500])
def test_bands_give_the_whole_image_table_numpy(seed, band_rows):
    label_free, fluorescence, labels = random_field(seed)
    expected = reference_measure_nuclei(label_free, fluorescence, labels, canvas=CANVAS, condition="treated",
                                        source_id="r", fluorescence_channel=1)
    found = measure_nuclei(label_free, fluorescence, labels, canvas=CANVAS, condition="treated", source_id="r",
                           fluorescence_channel=1, band_rows=band_rows)
    heights = expected["bbox_y1"] - expected["bbox_y0"]
    assert len(expected) >= 40 and (heights > CANVAS + min(band_rows, 16)).any()
    assert_same_table(found, expected)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(("band_rows", "chunk_rows"), [(3, 4), (8, 8), (10, 7), (1024, 32)])
def test_bands_give_the_whole_image_table_zarr(seed, band_rows, chunk_rows):
    label_free, fluorescence, labels = random_field(seed, shape=(83, 70), dtype=np.int32)
    expected = reference_measure_nuclei(label_free, fluorescence, labels, canvas=CANVAS, condition=None,
                                        fluorescence_channel=1)
    found = measure_nuclei(as_zarr(label_free, chunk_rows), as_zarr(fluorescence, chunk_rows),
                           as_zarr(labels, chunk_rows), canvas=CANVAS, condition=None, fluorescence_channel=1,
                           band_rows=band_rows)
    assert_same_table(found, expected)


def test_rounding_of_coordinate_sums_matches_numpy_mean():
    """A large irregular nucleus read in many pieces: centroid and intensity sums equal to the bit."""
    rng = np.random.default_rng(7)
    shape = (700, 300)
    labels = np.zeros(shape, np.uint16)
    labels[5:690, 3:297] = (rng.random((685, 294)) < 0.77) * 3  # one id, ~155,000 px, many holes
    labels[0, 0] = 9
    label_free = rng.lognormal(0.0, 2.0, shape).astype(np.float32)
    fluorescence = rng.integers(0, 65535, shape).astype(np.uint16)
    expected = reference_measure_nuclei(label_free, fluorescence, labels, canvas=CANVAS, condition="control")
    found = measure_nuclei(label_free, fluorescence, labels, canvas=CANVAS, condition="control", band_rows=13)
    assert_same_table(found, expected)


def test_signed_labels_treat_negative_values_as_background():
    label_free, fluorescence, labels = random_field(11, dtype=np.int64)
    labels[10:20, 5:50] = -4
    labels[60:62, :] = -1
    expected = reference_measure_nuclei(label_free, fluorescence, labels, canvas=CANVAS, condition=None)
    found = measure_nuclei(label_free, fluorescence, labels, canvas=CANVAS, condition=None, band_rows=6)
    assert -4 not in set(found["label_id"])
    assert_same_table(found, expected)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("band_rows", [1, 4, 9, 200])
def test_label_boxes_equal_find_objects_over_the_whole_image(seed, band_rows):
    _, _, labels = random_field(seed, shape=(71, 45), dtype=np.int16)
    labels[3:5, 3:9] = -2
    whole = {k + 1: (box[0].start, box[0].stop, box[1].start, box[1].stop)
             for k, box in enumerate(ndimage.find_objects(labels)) if box is not None}
    found = label_boxes(labels, band_rows=band_rows)
    assert found == whole and list(found) == sorted(whole)


def test_band_rows_align_to_zarr_chunks():
    labels = as_zarr(np.zeros((40, 30), np.uint32), chunk_rows=8)
    assert [band_rows_for(labels, n) for n in (1, 8, 9, 17)] == [8, 8, 16, 24]
    assert band_rows_for(np.zeros((40, 30), np.uint32), 9) == 9
    with pytest.raises(ConfigError, match="band_rows: found 0; expected a positive number of rows"):
        band_rows_for(labels, 0)
    label_free, fluorescence, plain = random_field(1)
    with pytest.raises(ConfigError, match="band_rows: found -3"):
        measure_nuclei(label_free, fluorescence, plain, condition=None, band_rows=-3)


class RowCountingArray:
    """A 2-D array that records how many rows every read asks for."""

    def __init__(self, array):
        self.array = array
        self.shape, self.dtype = array.shape, array.dtype
        self.chunks = getattr(array, "chunks", None)
        self.rows_read = []

    def __getitem__(self, key):
        rows = key[0] if isinstance(key, tuple) else key
        self.rows_read.append(len(range(*rows.indices(self.shape[0]))))
        return self.array[key]


def test_labels_are_read_one_band_at_a_time():
    """A mosaic 40 bands tall: no read of labels or label-free image exceeds band + canvas rows."""
    rng = np.random.default_rng(3)
    shape, band, chunk = (640, 48), 16, 8
    labels = np.zeros(shape, np.uint32)
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    for label_id, (cy, cx) in enumerate(zip(rng.uniform(0, shape[0], 150), rng.uniform(0, shape[1], 150),
                                            strict=True), start=1):
        labels[(yy - cy) ** 2 + (xx - cx) ** 2 <= rng.uniform(1, 5) ** 2] = label_id
    labels[30:600, 20] = 400  # taller than band and canvas together, many times over
    labels[[5, 620], [40, 3]] = 401  # one id at the top and at the bottom of the mosaic
    label_free = rng.normal(size=shape).astype(np.float32)
    fluorescence = rng.integers(0, 1000, shape).astype(np.uint16)
    counted_labels = RowCountingArray(as_zarr(labels, chunk, 48))
    counted_image = RowCountingArray(as_zarr(label_free, chunk, 48))
    found = measure_nuclei(counted_image, as_zarr(fluorescence, chunk, 48), counted_labels, canvas=CANVAS,
                           condition="control", band_rows=band)
    expected = reference_measure_nuclei(label_free, fluorescence, labels, canvas=CANVAS, condition="control")
    assert_same_table(found, expected)
    assert len(counted_labels.rows_read) >= shape[0] // band  # the first pass reads every band
    assert max(counted_labels.rows_read) <= band + CANVAS
    assert max(counted_image.rows_read) <= band + CANVAS


def test_progress_lines_and_errors_unchanged():
    shape = (120, 120)
    labels = np.zeros(shape, np.uint32)
    labels[1:-1:2, 1:-1:2] = np.arange(7, 7 + 59 * 59).reshape(59, 59)  # 3481 one-pixel nuclei
    label_free = np.ones(shape, np.float32)
    fluorescence = np.ones(shape, np.uint16)
    expected, found = [], []
    reference_measure_nuclei(label_free, fluorescence, labels, canvas=CANVAS, condition=None, source_id="p",
                             progress=expected.append)
    measure_nuclei(label_free, fluorescence, labels, canvas=CANVAS, condition=None, source_id="p", band_rows=7,
                   progress=found.append)
    assert found == expected == ["measure p 1000/3481 nuclei", "measure p 2000/3481 nuclei",
                                 "measure p 3000/3481 nuclei", "measure p 3481/3481 nuclei"]
    empty = as_zarr(np.zeros(shape, np.uint32), chunk_rows=16)
    with pytest.raises(InputDataError, match=r"mosaic 'e': labels hold no nuclei \(every pixel is 0\); "
                                             "expected at least one labelled nucleus"):
        measure_nuclei(label_free, fluorescence, empty, condition=None, source_id="e", band_rows=16)
