"""The study's clean-up of nuclei labels, and the check that nuclei were found at all.

Clean-up, per label: keep only its largest connected piece (stray pixels and detached fragments
go), fill its holes, then drop labels outside the allowed area range (small spurious regions,
merged clumps) and, optionally, labels cut by the image border; finally relabel 1..n.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.segmentation import clear_border, relabel_sequential

from stainworth.errors import ConfigError, InputDataError

_FULL_CONNECTIVITY = np.ones((3, 3), dtype=bool)


def clean_labels(
    labels: np.ndarray,
    *,
    min_area_px: int,
    max_area_px: int | None = None,
    fill_holes: bool = True,
    remove_border: bool = False,
) -> np.ndarray:
    """Connected components per label, hole filling, area filter and sequential relabelling.

    Parameters
    ----------
    labels
        (H, W) non-negative integer instance labels (0 = background); ids need not be sequential.
    min_area_px
        Labels with fewer pixels than this (after keeping the largest piece) are removed.
    max_area_px
        Labels with more pixels than this are removed (``None``: no upper bound).
    fill_holes
        Fill holes inside each label; only background pixels are filled, never another label.
    remove_border
        Remove labels touching the image border (nuclei cut by the field edge).

    Returns
    -------
    numpy.ndarray
        (H, W) uint32 labels numbered 1..n in order of their original ids; 0 is background.

    Raises
    ------
    InputDataError
        If ``labels`` is not a 2-D non-negative integer array.
    ConfigError
        If the area bounds are negative or ``max_area_px < min_area_px``.

    Notes
    -----
    Pieces are 8-connected: a label touching itself only diagonally is one piece.
    """
    _check_labels(labels)
    _check_area_bounds(min_area_px, max_area_px)
    labels = _compact_ids(labels)
    out = np.zeros(labels.shape, dtype=np.uint32)
    for index, window in enumerate(ndi.find_objects(labels)):
        if window is None:
            continue
        label_id = index + 1
        piece = _largest_piece(labels[window] == label_id)
        if fill_holes:
            piece = ndi.binary_fill_holes(piece) & ((labels[window] == 0) | piece)
        area = int(piece.sum())
        if area < min_area_px or (max_area_px is not None and area > max_area_px):
            continue
        target = out[window]  # a view: writes go to ``out``
        target[piece & (target == 0)] = label_id
    if remove_border:
        out = clear_border(out)
    return relabel_sequential(out)[0].astype(np.uint32, copy=False)


def require_nuclei(labels: np.ndarray, *, where: str) -> np.ndarray:
    """Refuse an empty label image: the caller cannot go on without nuclei.

    Parameters
    ----------
    labels
        (H, W) integer instance labels.
    where
        What was labelled (file, field or tile name), put at the start of the message.

    Returns
    -------
    numpy.ndarray
        ``labels`` unchanged when it holds at least one nucleus.

    Raises
    ------
    InputDataError
        ``"<where>: no nuclei found (...)"`` with a hint on what to check.
    """
    if not np.any(labels):
        raise no_nuclei(where, labels.shape)
    return labels


def no_nuclei(where: str, shape: tuple[int, ...]) -> InputDataError:
    """The error of an empty label image of ``shape``: what was labelled and what to check."""
    return InputDataError(
        f"{where}: no nuclei found (label image {shape[-2]}x{shape[-1]} is empty); "
        "check the nuclear marker channel, pixel_size_um, nucleus_diameter_um and min_area_um2"
    )


def _compact_ids(labels: np.ndarray) -> np.ndarray:
    """Labels with ids no larger than the pixel count (sparse huge ids renumbered, order kept)."""
    if labels.size == 0 or int(labels.max()) <= labels.size:
        return labels
    ids, index = np.unique(labels, return_inverse=True)
    return (index.reshape(labels.shape) + int(ids[0] != 0)).astype(np.int64)


def _largest_piece(mask: np.ndarray) -> np.ndarray:
    pieces, n = ndi.label(mask, structure=_FULL_CONNECTIVITY)
    if n <= 1:
        return mask
    sizes = np.bincount(pieces.ravel())
    sizes[0] = 0
    return np.asarray(pieces == int(np.argmax(sizes)))


def _check_labels(labels: np.ndarray) -> None:
    if not isinstance(labels, np.ndarray) or labels.ndim != 2:
        shape = getattr(labels, "shape", type(labels).__name__)
        raise InputDataError(f"labels: found shape {shape}, expected a 2-D (H, W) label image")
    if not np.issubdtype(labels.dtype, np.integer):
        raise InputDataError(f"labels: found dtype {labels.dtype}, expected integer instance labels")
    if labels.size and np.issubdtype(labels.dtype, np.signedinteger) and labels.min() < 0:
        raise InputDataError(f"labels: found negative label {labels.min()}, expected labels >= 0")


def _check_area_bounds(min_area_px: int, max_area_px: int | None) -> None:
    if min_area_px < 0:
        raise ConfigError(f"min_area_px: found {min_area_px}, expected >= 0")
    if max_area_px is not None and max_area_px < min_area_px:
        raise ConfigError(f"max_area_px: found {max_area_px}, expected >= min_area_px ({min_area_px})")
