"""The global solve: tile positions from all pairwise offsets at once (weighted least squares).

Preibisch et al. [1]_ solve all tile positions from all pairwise shifts at once and drop the
links that disagree most; MIST [2]_ replaces unreliable pairs by a stage model (the typical
offset of its direction). Both ideas are used here.

References
----------
.. [1] Preibisch S, Saalfeld S, Tomancak P (2009). Globally optimal stitching of tiled 3D
       microscopic image acquisitions. Bioinformatics 25(11):1463-1465.
       doi:10.1093/bioinformatics/btp184
.. [2] Chalfoun J et al. (2017). MIST: Accurate and scalable microscopy image stitching tool with
       stage modeling and error minimization. Sci Rep 7:4988. doi:10.1038/s41598-017-04567-y
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import splu

from stainworth.mosaic.pairs import PairMeasure

PRIOR_WEIGHT = 1e-6
"""Weight tying every tile to its nominal position: fixes the gauge (mean correction zero)."""
STAGE_MODEL_WEIGHT = 1e-3
"""Weight of the stage-model offset that stands in for a rejected pair."""
MIN_SUPPORT = 0.01
"""Pairs whose offset the rest of the grid determines less than this (1 - leverage) cannot be checked."""


def frame_positions(solution: np.ndarray) -> np.ndarray:
    """Move solved positions into the mosaic frame, choosing its free global offset for rounding.

    The offset makes the fractional parts of all positions centre on zero (their circular mean),
    so rounding moves every tile as little as possible and tiles solved consistently stay
    consistent after rounding; then the smallest rounded corner is put at 0.

    Parameters
    ----------
    solution
        (n, 2) solved positions (y, x), px.

    Returns
    -------
    numpy.ndarray
        (n, 2) float64 positions whose rounded minimum is 0 along each axis.
    """
    phase = np.angle(np.exp(2j * np.pi * solution).mean(axis=0)) / (2 * np.pi)
    shifted = solution - phase
    return shifted - np.rint(shifted).min(axis=0)


def solve_positions(n: int, pairs: list[tuple[int, int]], measures: list[PairMeasure], accepted: list[bool],
                    nominal: np.ndarray, *, outlier_px: float) -> tuple[np.ndarray, list[bool], list[float]]:
    """Weighted least squares for all tile positions; pairs that the rest of the grid contradicts are dropped.

    Each accepted pair contributes ``p_j - p_i = offset`` with weight NCC squared; each rejected
    pair ``p_j - p_i = median accepted offset of its direction`` (the stage model) with weight
    ``STAGE_MODEL_WEIGHT``; each tile ``p_k = nominal_k`` with ``PRIOR_WEIGHT``. A used pair is
    judged by its leave-one-out residual ``r / (1 - h)`` (h its leverage): how far the offset
    the other pairs imply is from its own measurement. Least-squares residuals alone spread one
    bad pair's error over every loop it closes; the leave-one-out residual does not. The pair
    with the largest one above ``outlier_px`` is dropped and the problem solved again.

    Parameters
    ----------
    n
        Number of tiles.
    pairs, measures, accepted
        Pairs (i, j), their measurements and whether each passed the quality checks.
    nominal
        (n, 2) nominal positions (y, x), px.
    outlier_px
        Largest leave-one-out residual tolerated for a used pair, px.

    Returns
    -------
    positions : numpy.ndarray
        (n, 2) float64 (y, x).
    used : list of bool
        Whether each pair entered the final solve.
    residuals : list of float
        Distance between measured and solved offset per pair, px (NaN when nothing was measured).
    """
    used = list(accepted)
    offsets = np.array([m.offset for m in measures], dtype=np.float64).reshape(-1, 2)
    qualities = np.array([m.quality for m in measures], dtype=np.float64)
    while True:
        targets, weights = _equations(pairs, measures, offsets, used, nominal)
        solution, factor = _weighted_solve(n, pairs, targets, weights, nominal)
        solved = np.array([solution[j] - solution[i] for i, j in pairs]).reshape(-1, 2)
        residuals = np.linalg.norm(solved - offsets, axis=1)
        support = 1.0 - _leverages(factor, n, pairs, weights)
        checkable = np.asarray(used, dtype=bool) & (support > MIN_SUPPORT)
        loo = np.where(checkable, residuals / np.maximum(support, MIN_SUPPORT), 0.0)
        worst = max(np.flatnonzero(checkable), key=lambda k: (round(float(loo[k]), 6), -qualities[k]), default=None)
        if worst is None or loo[worst] <= outlier_px:
            return solution, used, [float(r) for r in residuals]
        used[int(worst)] = False


def _equations(pairs: list[tuple[int, int]], measures: list[PairMeasure], offsets: np.ndarray, used: list[bool],
               nominal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Target offset and weight per pair: the measurement, or the stage model when not used."""
    nominal_offsets = np.array([nominal[j] - nominal[i] for i, j in pairs]).reshape(-1, 2)
    targets, weights = nominal_offsets.copy(), np.full(len(pairs), STAGE_MODEL_WEIGHT)
    for axis in (0, 1):  # direction: 0 = vertical neighbours, 1 = horizontal neighbours
        direction = np.abs(nominal_offsets[:, axis]) >= np.abs(nominal_offsets[:, 1 - axis])
        good = direction & np.asarray(used, dtype=bool)
        if good.any():
            median = np.median(offsets[good] - nominal_offsets[good], axis=0)
            targets[direction] = nominal_offsets[direction] + median
    for k, measure in enumerate(measures):
        if used[k]:
            targets[k], weights[k] = offsets[k], max(measure.quality, 1e-3) ** 2
    return targets, weights


def _weighted_solve(n: int, pairs: list[tuple[int, int]], targets: np.ndarray, weights: np.ndarray,
                    nominal: np.ndarray) -> tuple[np.ndarray, Any]:
    """Normal equations of the pair constraints plus the nominal prior, and their sparse LU factor."""
    rows, cols, values = [np.arange(n)], [np.arange(n)], [np.full(n, PRIOR_WEIGHT)]
    rhs = PRIOR_WEIGHT * nominal.astype(np.float64).copy()
    for (i, j), target, weight in zip(pairs, targets, weights, strict=True):
        rows.append(np.array([i, j, i, j]))
        cols.append(np.array([i, j, j, i]))
        values.append(np.array([weight, weight, -weight, -weight]))
        rhs[i] -= weight * target
        rhs[j] += weight * target
    matrix = sparse.csc_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    factor = splu(matrix)
    return factor.solve(rhs).reshape(n, 2), factor


def _leverages(factor: Any, n: int, pairs: list[tuple[int, int]], weights: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Leverage ``w a^T L^-1 a`` of every pair constraint (a = e_j - e_i), solved in chunks of columns."""
    leverage = np.zeros(len(pairs))
    for start in range(0, len(pairs), chunk):
        block = pairs[start:start + chunk]
        design = np.zeros((n, len(block)))
        for column, (i, j) in enumerate(block):
            design[i, column], design[j, column] = -1.0, 1.0
        solved = factor.solve(design)
        leverage[start:start + len(block)] = weights[start:start + len(block)] * np.einsum("ij,ij->j", design, solved)
    return leverage
