import numpy as np
import pytest

from stainworth.errors import InputDataError
from stainworth.labels import label_quality


def boxes(shape, *rects):
    """Label image with rectangle k+1 = (y0, y1, x0, x1) for each given rectangle (later wins)."""
    labels = np.zeros(shape, np.uint32)
    for k, (y0, y1, x0, x1) in enumerate(rects):
        labels[y0:y1, x0:x1] = k + 1
    return labels


def test_identical_labels_score_one():
    truth = boxes((40, 40), (0, 10, 0, 10), (20, 30, 20, 35))
    q = label_quality(truth, truth)
    assert q["dice"] == q["pixel_precision"] == q["pixel_recall"] == q["ap"] == q["mean_matched_iou"] == 1.0
    assert (q["n_true"], q["n_pred"], q["n_matched"]) == (2, 2, 2)
    assert q["iou_threshold"] == 0.5


def test_known_mixture_of_matches_misses_and_false_positives():
    # truth: A 10x10 at (0,0), B 10x10 at (20,20)
    truth = boxes((40, 40), (0, 10, 0, 10), (20, 30, 20, 30))
    # pred: A shifted right by 2 (IoU 80/120), a box over B's corner (IoU 25/(100+25+... )), a stray box
    pred = boxes((40, 40), (0, 10, 2, 12), (25, 30, 25, 40), (35, 40, 0, 5))
    q = label_quality(pred, truth)
    # B vs pred 2: intersection 5x5 = 25, union 100 + 75 - 25 = 150 -> IoU 1/6, no match.
    assert (q["n_true"], q["n_pred"], q["n_matched"]) == (2, 3, 1)
    assert q["ap"] == pytest.approx(1 / (1 + 2 + 1))
    assert q["mean_matched_iou"] == pytest.approx(80 / 120)
    pred_px, true_px, inter = 100 + 75 + 25, 200, 80 + 25
    assert q["dice"] == pytest.approx(2 * inter / (pred_px + true_px))
    assert q["pixel_precision"] == pytest.approx(inter / pred_px)
    assert q["pixel_recall"] == pytest.approx(inter / true_px)


def test_ids_need_not_be_sequential_and_order_does_not_matter():
    truth = boxes((40, 40), (0, 10, 0, 10), (20, 30, 20, 30))
    pred = np.where(truth == 1, 4_000_000_000, np.where(truth == 2, 7, 0)).astype(np.uint32)
    q = label_quality(pred, truth.astype(np.int32))
    assert q["ap"] == 1.0 and q["n_matched"] == 2


def test_empty_mask_conventions():
    empty = np.zeros((8, 8), np.uint16)
    one = boxes((8, 8), (2, 5, 2, 5))
    both = label_quality(empty, empty)
    assert both["dice"] == both["ap"] == both["pixel_precision"] == both["pixel_recall"] == 1.0
    assert both["n_true"] == both["n_pred"] == both["n_matched"] == 0
    for pred, truth in ((empty, one), (one, empty)):
        q = label_quality(pred, truth)
        assert q["dice"] == q["ap"] == q["pixel_precision"] == q["pixel_recall"] == 0.0


def test_iou_must_exceed_the_threshold_strictly():
    truth = boxes((4, 20), (0, 4, 0, 10))
    pred = boxes((4, 20), (0, 4, 5, 15))  # intersection 5, union 15 -> IoU 1/3
    assert label_quality(pred, truth, iou_threshold=0.3)["n_matched"] == 1
    half = boxes((4, 20), (0, 4, 0, 5))  # IoU exactly 0.5
    assert label_quality(half, truth, iou_threshold=0.5)["n_matched"] == 0


def test_matching_is_one_to_one_and_maximal():
    # 1-D strips (all height 4): T1 = [0, 10), T2 = [10, 20); P1 = [3, 14), P2 = [0, 3).
    # IoU: P1-T1 7/14 = 0.5, P1-T2 4/17, P2-T1 3/10 = 0.3. A greedy matcher takes P1-T1 and
    # leaves P2 unmatched; the Hungarian matching pairs P1-T2 and P2-T1.
    truth = boxes((4, 24), (0, 4, 0, 10), (0, 4, 10, 20))
    pred = boxes((4, 24), (0, 4, 3, 14), (0, 4, 0, 3))
    q = label_quality(pred, truth, iou_threshold=0.15)
    assert q["n_matched"] == 2 and q["ap"] == 1.0
    assert q["mean_matched_iou"] == pytest.approx((4 / 17 + 0.3) / 2)
    # One prediction never matches two objects.
    wide = boxes((4, 24), (0, 4, 0, 20))
    q = label_quality(wide, truth, iou_threshold=0.4)
    assert q["n_matched"] == 1 and q["ap"] == pytest.approx(1 / 2)


@pytest.mark.parametrize(
    ("pred", "truth", "match"),
    [
        (np.zeros((4, 4), np.uint8), np.zeros((4, 5), np.uint8), "differs from truth shape"),
        (np.zeros((4, 4), np.float32), np.zeros((4, 4), np.uint8), "expected integer"),
        (np.zeros((2, 4, 4), np.uint8), np.zeros((4, 4), np.uint8), "expected a 2-D"),
        (np.full((4, 4), -1, np.int32), np.zeros((4, 4), np.int32), "negative label"),
    ],
)
def test_bad_label_images_are_refused(pred, truth, match):
    with pytest.raises(InputDataError, match=match):
        label_quality(pred, truth)


def test_bad_threshold_is_refused():
    with pytest.raises(InputDataError, match="iou_threshold"):
        label_quality(np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint8), iou_threshold=1.0)


def test_counts_equal_cellpose_average_precision_with_a_strict_threshold():
    """Cellpose 3's matching, relabelled 1..n and with IoU > t as IoU >= nextafter(t), finds the same pairs."""
    from cellpose import metrics
    from skimage.draw import disk
    from skimage.segmentation import relabel_sequential

    rng = np.random.default_rng(0)

    def discs(count):
        labels = np.zeros((64, 64), np.int32)
        for k in range(count):
            labels[disk(tuple(rng.uniform(0, 64, 2)), rng.uniform(2, 8), shape=labels.shape)] = 3 * k + 5
        return labels

    for case in range(40):
        truth = discs(int(rng.integers(1, 15)))
        shift = tuple(int(v) for v in rng.integers(-3, 4, 2))
        pred = np.roll(truth, shift, axis=(0, 1)) if case % 2 else discs(int(rng.integers(1, 15)))
        for threshold in (0.1, 0.3, 0.5, 0.75):
            q = label_quality(pred, truth, iou_threshold=threshold)
            ap, tp, fp, fn = metrics.average_precision(relabel_sequential(truth)[0], relabel_sequential(pred)[0],
                                                       threshold=[np.nextafter(threshold, 1.0)])
            assert (int(tp[0]), int(fp[0]), int(fn[0])) == (
                q["n_matched"], q["n_pred"] - q["n_matched"], q["n_true"] - q["n_matched"])
            assert float(ap[0]) == pytest.approx(q["ap"], rel=1e-6)  # cellpose's counts are float32
