"""Nuclei instance labels from a fluorescence nuclear marker, their clean-up and their quality.

Two labelers return (H, W) uint32 instance labels: :func:`label_nuclei_classical` (the embedded
default: smoothing, threshold, distance-transform watershed) and :func:`label_nuclei_cellpose`
with a user-supplied Cellpose 3 model file loaded by :func:`load_cellpose_model` (nothing is
downloaded; a file that loads no weights is refused). :func:`clean_labels` is the study's
clean-up, :func:`require_nuclei` refuses an empty result, :func:`label_quality` scores labels
against ground truth (pixel Dice, precision, recall; AP at an IoU threshold). See
``docs/labelling.md``.
"""

from stainworth.labels.cellpose_labeler import label_nuclei_cellpose, load_cellpose_model
from stainworth.labels.classical import check_marker_image, label_nuclei_classical
from stainworth.labels.cleanup import clean_labels, no_nuclei, require_nuclei
from stainworth.labels.quality import label_quality

__all__ = [
    "check_marker_image",
    "clean_labels",
    "label_nuclei_cellpose",
    "label_nuclei_classical",
    "label_quality",
    "load_cellpose_model",
    "no_nuclei",
    "require_nuclei",
]
