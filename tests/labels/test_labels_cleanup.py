import numpy as np
import pytest

from stainworth.errors import ConfigError, InputDataError
from stainworth.labels import clean_labels, require_nuclei


def test_a_split_label_keeps_its_largest_piece_and_stray_pixels_go():
    labels = np.zeros((30, 30), np.uint16)
    labels[2:12, 2:12] = 5          # main body of label 5 (100 px)
    labels[20:23, 20:23] = 5        # detached fragment of label 5 (9 px)
    labels[28, 0] = 5               # stray pixel
    labels[15:25, 2:10] = 9         # a second nucleus (80 px)
    out = clean_labels(labels, min_area_px=1)
    assert out.dtype == np.uint32
    assert sorted(np.unique(out)) == [0, 1, 2]
    assert (out == 1).sum() == 100 and (out[2:12, 2:12] == 1).all()
    assert (out == 2).sum() == 80
    assert out[20:23, 20:23].max() == 0 and out[28, 0] == 0


def test_diagonal_contact_is_one_piece():
    labels = np.zeros((6, 6), np.uint8)
    labels[0:2, 0:2] = 1
    labels[2:4, 2:4] = 1  # touches the first square only at a corner
    assert (clean_labels(labels, min_area_px=1) == 1).sum() == 8


def test_area_bounds_remove_small_and_large_regions():
    labels = np.zeros((60, 60), np.int32)
    labels[0:3, 0:3] = 1            # 9 px: spurious
    labels[10:20, 10:20] = 2        # 100 px
    labels[30:60, 30:60] = 3        # 900 px: a clump
    out = clean_labels(labels, min_area_px=10, max_area_px=500)
    assert out.max() == 1 and (out == 1).sum() == 100 and out[15, 15] == 1


def test_holes_are_filled_without_overwriting_another_nucleus():
    labels = np.zeros((30, 30), np.uint32)
    labels[2:12, 2:12] = 1
    labels[5:8, 5:8] = 0            # a hole
    labels[15:28, 15:28] = 2
    labels[19:24, 19:24] = 3        # a nucleus inside a ring of label 2
    out = clean_labels(labels, min_area_px=1)
    assert (out[2:12, 2:12] == 1).all()
    assert (out[19:24, 19:24] == 3).all() and (out == 2).sum() == 13 * 13 - 25
    kept = clean_labels(labels, min_area_px=1, fill_holes=False)
    assert (kept[5:8, 5:8] == 0).all()


def test_border_labels_can_be_removed():
    labels = np.zeros((20, 20), np.uint8)
    labels[0:5, 0:5] = 1
    labels[8:12, 8:12] = 2
    labels[15:20, 10:14] = 3
    out = clean_labels(labels, min_area_px=1, remove_border=True)
    assert out.max() == 1 and (out[8:12, 8:12] == 1).all()


def test_sparse_huge_ids_are_relabelled_in_order():
    labels = np.zeros((10, 10), np.uint32)
    labels[0:3, 0:3] = 4_000_000_000
    labels[5:8, 5:8] = 17
    out = clean_labels(labels, min_area_px=1)
    assert out[1, 1] == 2 and out[6, 6] == 1


def test_empty_labels_stay_empty():
    out = clean_labels(np.zeros((5, 7), np.uint8), min_area_px=3)
    assert out.shape == (5, 7) and out.dtype == np.uint32 and not out.any()


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        (np.zeros((3, 4, 4), np.uint8), "expected a 2-D"),
        (np.zeros((4, 4), np.float64), "expected integer"),
        (np.full((4, 4), -2, np.int16), "negative label"),
    ],
)
def test_bad_labels_are_refused(labels, match):
    with pytest.raises(InputDataError, match=match):
        clean_labels(labels, min_area_px=1)


def test_bad_area_bounds_are_refused():
    labels = np.zeros((4, 4), np.uint8)
    with pytest.raises(ConfigError, match="min_area_px"):
        clean_labels(labels, min_area_px=-1)
    with pytest.raises(ConfigError, match="max_area_px"):
        clean_labels(labels, min_area_px=10, max_area_px=5)


def test_require_nuclei():
    labels = np.zeros((16, 16), np.uint32)
    with pytest.raises(InputDataError, match=r"^field 3/lamin_a_c: no nuclei found \(label image 16x16 is empty\)"):
        require_nuclei(labels, where="field 3/lamin_a_c")
    labels[4, 4] = 1
    assert require_nuclei(labels, where="field 3") is labels
