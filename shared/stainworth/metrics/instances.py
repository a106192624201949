"""Per-object scores of a predicted nucleus mask: instance average precision and count error.

The pixel scores (:mod:`stainworth.metrics.segmentation`) say how much of the nuclear area a
network finds; they cannot tell two touching nuclei found as one blob from two nuclei found
apart, which is what a cell count or a per-nucleus measurement needs. Per test image:

* the predicted instances are the connected components (4-connectivity) of the thresholded
  mask; the network predicts a binary mask, so touching nuclei it does not separate stay one
  instance, and that is scored as the error it is;
* the true instances are the labels ``prepare`` made (Cellpose or the classical labeller), cut
  with the crop;
* predicted and true instances are matched one-to-one by maximising the matches with
  intersection over union (IoU) at least ``t`` (Hungarian assignment), and
  ``AP_t = TP / (TP + FP + FN)``, as Cellpose's ``metrics.average_precision`` (after StarDist;
  Stringer et al. 2021, Schmidt et al. 2018) computes it: the "average precision" of the
  cell-segmentation literature, which is the critical success index, not the area under a
  precision-recall curve;
* ``ap50`` is AP at IoU 0.5, ``ap`` the mean of AP over IoU 0.50, 0.55, ..., 0.95 (the COCO
  range), and ``count_error`` the predicted minus the true number of instances.

An image with neither true nor predicted instances has nothing to match: its AP is undefined
(NaN, left out of the means as the recall of an image without nuclei), and its count error is 0.

References
----------
Stringer, C., Wang, T., Michaelos, M. & Pachitariu, M. Cellpose: a generalist algorithm for
cellular segmentation. Nat. Methods 18, 100-106 (2021). https://doi.org/10.1038/s41592-020-01018-x

Schmidt, U., Weigert, M., Broaddus, C. & Myers, G. Cell detection with star-convex polygons.
MICCAI 2018, 265-273. https://doi.org/10.1007/978-3-030-00934-2_30
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.segmentation import relabel_sequential

from stainworth.errors import InputDataError

IOU_THRESHOLDS = tuple(round(0.5 + 0.05 * k, 2) for k in range(10))
"""IoU thresholds of ``ap``: 0.50, 0.55, ..., 0.95."""
INSTANCE_METRICS = ("ap50", "ap", "count_error")
"""Per-image per-object scores, in table order."""


def predicted_instances(mask: np.ndarray) -> np.ndarray:
    """Instances of a binary mask: its connected components (4-connectivity), labelled 1..k.

    >>> predicted_instances(np.array([[1, 0, 1], [1, 0, 0], [0, 1, 1]], bool)).tolist()
    [[1, 0, 2], [1, 0, 0], [0, 3, 3]]
    """
    labels, _ = ndimage.label(np.asarray(mask, dtype=bool))
    return labels.astype(np.int32, copy=False)


def instance_scores(truth: np.ndarray, predicted: np.ndarray) -> dict[str, np.ndarray]:
    """AP at IoU 0.5, AP over IoU 0.50:0.95 and the count error of each image.

    Parameters
    ----------
    truth
        (n, H, W) true instance labels (0 background; any positive integers).
    predicted
        (n, H, W) predicted binary masks (non-zero foreground); their connected components are
        the predicted instances.

    Returns
    -------
    dict of str to numpy.ndarray
        ``ap50``, ``ap`` (float64 (n,), NaN where an image has neither true nor predicted
        instances) and ``count_error`` (int64 (n,), predicted minus true instances).

    Raises
    ------
    InputDataError
        Arrays of different shapes, or not 3-D.

    Examples
    --------
    >>> truth = np.zeros((1, 8, 8), int); truth[0, :3, :3] = 1; truth[0, 5:, 5:] = 2
    >>> scores = instance_scores(truth, truth[:, :, :] == 1)
    >>> float(scores["ap50"][0]), int(scores["count_error"][0])
    (0.5, -1)
    """
    from cellpose.metrics import average_precision  # Cellpose's import takes seconds: only when scoring

    true = np.asarray(truth)
    mask = np.asarray(predicted)
    if true.ndim != 3 or true.shape != mask.shape:
        raise InputDataError(f"instances: found truth {true.shape} and prediction {mask.shape}; expected two "
                             "(n, H, W) arrays of the same shape")
    truths = [relabel_sequential(image.astype(np.int64, copy=False))[0] for image in true]
    predictions = [predicted_instances(image) for image in mask]
    n_true = np.array([int(image.max()) for image in truths], dtype=np.int64)
    n_pred = np.array([int(image.max()) for image in predictions], dtype=np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        ap, _, _, _ = average_precision(truths, predictions, threshold=list(IOU_THRESHOLDS))
    ap = np.asarray(ap, dtype=np.float64).reshape(len(truths), len(IOU_THRESHOLDS))
    ap[(n_true == 0) & (n_pred == 0)] = np.nan
    return {"ap50": ap[:, 0], "ap": ap.mean(axis=1), "count_error": n_pred - n_true}
