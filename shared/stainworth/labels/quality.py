"""Label quality against ground truth: pixel Dice, precision, recall and instance AP at an IoU.

Definitions (``pred`` and ``truth`` are instance label images, 0 = background):

* Pixel level, on the foregrounds ``P = pred > 0`` and ``T = truth > 0``:
  ``dice = 2 |P & T| / (|P| + |T|)``, ``pixel_precision = |P & T| / |P|``,
  ``pixel_recall = |P & T| / |T|``.
* Instance level: a predicted and a true object are a candidate pair when their intersection
  over union exceeds ``iou_threshold`` (strictly, as in Caicedo et al. 2019). Objects are matched
  one to one with the Hungarian algorithm (most matches first, then highest total IoU; the cost of
  the Cellpose paper's ``metrics.average_precision``). With TP matched pairs, FP unmatched
  predictions and FN unmatched true objects, ``ap = TP / (TP + FP + FN)`` -- the "average
  precision" of the Data Science Bowl 2018 and of Stringer et al. 2021 at one threshold.
* Empty masks: when both images are empty every score is 1 (nothing to find, nothing found);
  when exactly one is empty every score is 0.

The instance matching is written here rather than taken from Cellpose 3's
``cellpose.metrics.average_precision``, which gives the same TP, FP, FN and AP once its inputs
are relabelled 1..n and its threshold is moved to the next float above ``iou_threshold``
(``tests/labels/test_labels_quality.py`` checks this on random label images), because that
function

* returns counts only, not which objects matched, so ``mean_matched_iou`` would still need a
  matching of its own;
* matches at ``IoU >= threshold``, not strictly above it as in [1]_;
* sizes its overlap table by the largest label ids (``(max(truth) + 1) x (max(pred) + 1)``), so
  ids that are not sequential (allowed here, e.g. 4e9) must be relabelled first, and solves one
  dense assignment over all objects, where this module solves one per connected group of
  candidate pairs;
* gives 0 / 0 = NaN for two empty images (1 here);
* imports torch and compiles numba kernels (about 7 s), which the classical labelling stage
  that calls :func:`label_quality` does not otherwise need.

References
----------
.. [1] Caicedo, J. C. et al. Nucleus segmentation across imaging experiments: the 2018 Data
   Science Bowl. Nat. Methods 16, 1247-1253 (2019).
.. [2] Stringer, C., Wang, T., Michaelos, M. & Pachitariu, M. Cellpose: a generalist algorithm
   for cellular segmentation. Nat. Methods 18, 100-106 (2021).
.. [3] Kuhn, H. W. The Hungarian method for the assignment problem. Naval Res. Logist. Q. 2,
   83-97 (1955).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import linear_sum_assignment
from scipy.sparse.csgraph import connected_components

from stainworth.errors import InputDataError


def label_quality(pred: np.ndarray, truth: np.ndarray, *, iou_threshold: float = 0.5) -> dict[str, float | int]:
    """Compare predicted nuclei labels with ground-truth labels.

    Parameters
    ----------
    pred
        (H, W) integer instance labels (0 = background; ids need not be sequential).
    truth
        (H, W) integer instance labels of the ground truth, same shape.
    iou_threshold
        A predicted and a true object can be matched when their IoU exceeds this, in [0, 1).

    Returns
    -------
    dict
        ``dice``, ``pixel_precision``, ``pixel_recall``, ``ap`` (floats in [0, 1]),
        ``mean_matched_iou`` (mean IoU of the matched pairs; 0 when none), ``iou_threshold``,
        and the counts ``n_true``, ``n_pred``, ``n_matched`` (ints).

    Raises
    ------
    InputDataError
        If the images are not 2-D non-negative integer arrays of the same shape.

    References
    ----------
    .. [1] Caicedo, J. C. et al. Nat. Methods 16, 1247-1253 (2019).
    .. [2] Stringer, C. et al. Nat. Methods 18, 100-106 (2021).
    """
    if not 0.0 <= iou_threshold < 1.0:
        raise InputDataError(f"iou_threshold: found {iou_threshold}, expected a value in [0, 1)")
    _check_labels(pred, "pred")
    _check_labels(truth, "truth")
    if pred.shape != truth.shape:
        raise InputDataError(f"pred: shape {pred.shape} differs from truth shape {truth.shape}; expected equal shapes")
    scores: dict[str, float | int] = dict(_pixel_scores(pred > 0, truth > 0))
    scores.update(_instance_scores(pred, truth, iou_threshold))
    scores["iou_threshold"] = float(iou_threshold)
    return scores


def _check_labels(labels: np.ndarray, name: str) -> None:
    if not isinstance(labels, np.ndarray) or labels.ndim != 2:
        shape = getattr(labels, "shape", type(labels).__name__)
        raise InputDataError(f"{name}: found shape {shape}, expected a 2-D (H, W) label image")
    if not (np.issubdtype(labels.dtype, np.integer) or labels.dtype == np.bool_):
        raise InputDataError(f"{name}: found dtype {labels.dtype}, expected integer instance labels")
    if labels.size and np.issubdtype(labels.dtype, np.signedinteger) and labels.min() < 0:
        raise InputDataError(f"{name}: found negative label {labels.min()}, expected labels >= 0")


def _pixel_scores(p: np.ndarray, t: np.ndarray) -> dict[str, float]:
    return _pixel_counts_scores(int(p.sum()), int(t.sum()), int(np.logical_and(p, t).sum()))


def _pixel_counts_scores(n_p: int, n_t: int, inter: int) -> dict[str, float]:
    if n_p == 0 or n_t == 0:
        both_empty = float(n_p == n_t)
        return {"dice": both_empty, "pixel_precision": both_empty, "pixel_recall": both_empty}
    return {"dice": 2.0 * inter / (n_p + n_t), "pixel_precision": inter / n_p, "pixel_recall": inter / n_t}


def label_quality_blocks(pred: Any, truth: Any, *, iou_threshold: float = 0.5,
                         block_px: int = 4096) -> dict[str, float | int]:
    """:func:`label_quality` of two label images larger than memory, read block by block.

    The same scores, exactly: the pixel counts, each object's area and the overlap of every
    (predicted, true) pair are summed over blocks, so an object cut by a block edge is whole in
    the sums; the matching then runs once on the summed overlaps. Memory is one block of each
    image plus a few numbers per object.

    Parameters
    ----------
    pred, truth
        (H, W) integer instance labels, numpy or zarr (anything sliced ``a[y0:y1, x0:x1]``).
    iou_threshold
        As in :func:`label_quality`.
    block_px
        Side of the square blocks read at a time, px.
    """
    if not 0.0 <= iou_threshold < 1.0:
        raise InputDataError(f"iou_threshold: found {iou_threshold}, expected a value in [0, 1)")
    if tuple(pred.shape) != tuple(truth.shape) or len(pred.shape) != 2:
        raise InputDataError(f"pred: shape {tuple(pred.shape)}, truth: shape {tuple(truth.shape)}; expected equal "
                             "2-D shapes")
    n_p = n_t = inter = 0
    areas: dict[str, list[np.ndarray]] = {"pred_ids": [], "pred_counts": [], "true_ids": [], "true_counts": []}
    pair_keys, pair_counts = [], []
    height, width = pred.shape
    for y0 in range(0, height, block_px):
        for x0 in range(0, width, block_px):
            p = np.asarray(pred[y0:y0 + block_px, x0:x0 + block_px])
            t = np.asarray(truth[y0:y0 + block_px, x0:x0 + block_px])
            _check_labels(p, "pred")
            _check_labels(t, "truth")
            fp, ft = p > 0, t > 0
            both = fp & ft
            n_p, n_t, inter = n_p + int(fp.sum()), n_t + int(ft.sum()), inter + int(both.sum())
            for name, values in (("pred", p[fp]), ("true", t[ft])):
                ids, counts = np.unique(values.astype(np.uint64), return_counts=True)
                areas[f"{name}_ids"].append(ids)
                areas[f"{name}_counts"].append(counts)
            keys, counts = np.unique((p[both].astype(np.uint64) << np.uint64(32)) | t[both].astype(np.uint64),
                                     return_counts=True)
            pair_keys.append(keys)
            pair_counts.append(counts)
    scores: dict[str, float | int] = dict(_pixel_counts_scores(n_p, n_t, inter))
    pred_ids, area_p = _summed(areas["pred_ids"], areas["pred_counts"])
    true_ids, area_t = _summed(areas["true_ids"], areas["true_counts"])
    keys, overlap = _summed(pair_keys, pair_counts)
    rows = np.searchsorted(pred_ids, keys >> np.uint64(32))
    cols = np.searchsorted(true_ids, keys & np.uint64(0xFFFFFFFF))
    overlap = overlap.astype(np.float64)
    iou = overlap / (area_p[rows] + area_t[cols] - overlap)
    scores.update(_matched_scores(rows.astype(np.int64), cols.astype(np.int64), iou, len(pred_ids), len(true_ids),
                                  iou_threshold))
    scores["iou_threshold"] = float(iou_threshold)
    return scores


def _summed(ids: list[np.ndarray], counts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct ids and their summed counts."""
    if not ids:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    unique, inverse = np.unique(np.concatenate(ids), return_inverse=True)
    return unique, np.bincount(inverse.ravel(), weights=np.concatenate(counts), minlength=len(unique)).astype(np.int64)


def _instance_scores(pred: np.ndarray, truth: np.ndarray, iou_threshold: float) -> dict[str, float | int]:
    rows, cols, iou, (n_pred, n_true) = _overlapping_pairs(pred, truth)
    return _matched_scores(rows, cols, iou, n_pred, n_true, iou_threshold)


def _matched_scores(rows: np.ndarray, cols: np.ndarray, iou: np.ndarray, n_pred: int, n_true: int,
                    iou_threshold: float) -> dict[str, float | int]:
    keep = iou > iou_threshold
    matched = _match(rows[keep], cols[keep], iou[keep], n_pred)
    n_matched = len(matched)
    ap = 1.0 if n_pred == n_true == 0 else n_matched / (n_pred + n_true - n_matched)
    mean_iou = float(np.mean(matched)) if n_matched else 0.0
    return {"ap": ap, "mean_matched_iou": mean_iou, "n_true": n_true, "n_pred": n_pred, "n_matched": n_matched}


def _overlapping_pairs(
    pred: np.ndarray, truth: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]:
    """Object indices (pred, true) and IoU of every overlapping pair, and the object counts."""
    p_idx, n_pred = _object_index(pred)
    t_idx, n_true = _object_index(truth)
    area_p = np.bincount(p_idx[p_idx >= 0], minlength=n_pred)
    area_t = np.bincount(t_idx[t_idx >= 0], minlength=n_true)
    both = (p_idx >= 0) & (t_idx >= 0)
    pairs = sparse.coo_array(
        (np.ones(int(both.sum()), dtype=np.int64), (p_idx[both], t_idx[both])), shape=(n_pred, n_true)
    )
    pairs.sum_duplicates()
    rows, cols = pairs.coords
    inter = pairs.data.astype(np.float64)
    return rows, cols, inter / (area_p[rows] + area_t[cols] - inter), (n_pred, n_true)


def _object_index(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """Flat object index 0..n-1 per pixel (-1 on background) and the number of objects n."""
    ids, index = np.unique(labels, return_inverse=True)
    has_background = int(ids[0] == 0) if ids.size else 0
    return index.ravel().astype(np.int64) - has_background, len(ids) - has_background


def _match(rows: np.ndarray, cols: np.ndarray, iou: np.ndarray, n_pred: int) -> list[float]:
    """IoUs of a maximum one-to-one matching of the candidate pairs (pred ``rows``, true ``cols``)."""
    if rows.size == 0:
        return []
    # Candidate pairs form a bipartite graph; match each connected part on its own (exact, cheap).
    n_nodes = n_pred + int(cols.max()) + 1
    graph = sparse.coo_array((np.ones(rows.size), (rows, n_pred + cols)), shape=(n_nodes, n_nodes))
    part = connected_components(graph, directed=False)[1][rows]
    single = np.bincount(part)[part] == 1  # one pair alone in its part: matched as it is
    matched = [float(v) for v in iou[single]]
    order = np.argsort(part[~single], kind="stable")
    r, c, v, k = (a[~single][order] for a in (rows, cols, iou, part))
    bounds = np.flatnonzero(np.diff(k)) + 1
    for rr, cc, vv in zip(np.split(r, bounds), np.split(c, bounds), np.split(v, bounds), strict=True):
        if rr.size:
            matched.extend(_hungarian(rr, cc, vv))
    return matched


def _hungarian(rows: np.ndarray, cols: np.ndarray, values: np.ndarray) -> list[float]:
    r_ids, r = np.unique(rows, return_inverse=True)
    c_ids, c = np.unique(cols, return_inverse=True)
    iou = np.zeros((len(r_ids), len(c_ids)))
    iou[r, c] = values
    # Most matches first, then highest IoU (IoU / (2 n) < 1 never outweighs one extra match).
    cost = -(iou > 0).astype(np.float64) - iou / (2.0 * min(iou.shape))
    ri, ci = linear_sum_assignment(cost)
    return [float(v) for v in iou[ri, ci] if v > 0]
