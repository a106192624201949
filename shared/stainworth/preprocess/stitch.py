"""Stitching: pairwise overlap registration, a global weighted least-squares solve, blending.

Positions follow the MIST / ASHLAR recipe: every pair of grid neighbours is registered on its
overlap by phase correlation and scored by normalised cross-correlation; all accepted pairwise
offsets then enter one weighted least-squares problem for the tile positions (no chaining, so an
error does not propagate along a row), with a weak prior on the stage's nominal positions that
keeps tiles without a good pair in place; pairs disagreeing with the solution are dropped and the
problem solved again.

References
----------
.. [1] Chalfoun J. et al. (2017) MIST: accurate and scalable microscopy image stitching tool with
       stage modeling and error minimization. Sci Rep 7:4988. doi:10.1038/s41598-017-04567-y
.. [2] Muhlich J. L. et al. (2022) Stitching and registering highly multiplexed whole-slide images
       of tissues and tumors using ASHLAR. Bioinformatics 38(19):4613-4621.
       doi:10.1093/bioinformatics/btac544
.. [3] Preibisch S., Saalfeld S., Tomancak P. (2009) Globally optimal stitching of tiled 3D
       microscopic image acquisitions. Bioinformatics 25(11):1463-1465.
       doi:10.1093/bioinformatics/btp184
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import cv2
import numpy as np
from skimage.registration import phase_cross_correlation

from stainworth.errors import InputDataError
from stainworth.preprocess.blocks import iter_blocks

TileLoader = Callable[[int], np.ndarray]


@dataclass(frozen=True)
class PairShift:
    """The measured offset between two neighbouring tiles."""

    i: int
    j: int
    offset_yx: tuple[float, float]
    """Position of tile j minus position of tile i, px."""
    quality: float
    """Normalised cross-correlation of the overlap at that offset (-1..1)."""
    used: bool
    residual_px: float = float("nan")
    """Distance between the measured offset and the solved positions' offset."""


@dataclass(frozen=True)
class StitchResult:
    """Solved tile positions."""

    positions: np.ndarray
    """(n, 2) int64 tile top-left corners (y, x) in the mosaic frame (minimum at 0)."""
    pairs: list[PairShift]
    rms_residual_px: float
    """RMS residual of the pairs used in the final solve."""
    mosaic_shape: tuple[int, int]


def _check_finite(tile: np.ndarray, index: int) -> np.ndarray:
    if not np.all(np.isfinite(tile)):
        raise InputDataError(f"tile {index}: contains NaN or infinite pixels")
    return tile


def _overlap_windows(offset: np.ndarray, shape: tuple[int, ...]) -> tuple[tuple[slice, slice], tuple[slice, slice]]:
    """Slices of tile i and tile j covering their common area for tile j at ``offset`` from i."""
    dy, dx = int(round(offset[0])), int(round(offset[1]))
    height, width = shape[-2], shape[-1]
    a = (slice(max(dy, 0), min(height, height + dy)), slice(max(dx, 0), min(width, width + dx)))
    b = (slice(max(-dy, 0), min(height, height - dy)), slice(max(-dx, 0), min(width, width - dx)))
    return a, b


def _ncc(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    denominator = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denominator) if denominator > 0 else 0.0


def high_pass(image: np.ndarray, *, sigma: float = 8.0) -> np.ndarray:
    """Remove slowly varying background (e.g. the cloudy low frequencies of TIE phase)."""
    image = np.asarray(image, dtype=np.float32)
    return image - cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def _taper(shape: tuple[int, ...]) -> np.ndarray:
    """Separable Tukey window (flat middle, cosine edges) against edge effects of the FFT."""
    def window(length: int) -> np.ndarray:
        edge = max(length // 4, 1)
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(edge) + 0.5) / edge)
        profile = np.ones(length)
        profile[:edge], profile[length - edge:] = ramp, ramp[::-1]
        return profile

    return np.outer(window(shape[0]), window(shape[1])).astype(np.float32)


def measure_pair(tile_i: np.ndarray, tile_j: np.ndarray, nominal: np.ndarray, *,
                 upsample: int = 10) -> tuple[np.ndarray, float]:
    """Offset of tile j relative to tile i near ``nominal``, and its NCC quality.

    Both tiles are high-pass filtered first: each tile of a TIE acquisition has its own
    low-frequency background, which would otherwise dominate the correlation. Phase correlation
    is periodic, so the shift and its wrapped alternatives are all scored by normalised
    cross-correlation and the best one is kept.
    """
    tile_i, tile_j = high_pass(tile_i), high_pass(tile_j)
    window_i, window_j = _overlap_windows(nominal, tile_i.shape)
    strip_i, strip_j = tile_i[window_i], tile_j[window_j]
    taper = _taper(strip_i.shape)
    shift, _, _ = phase_cross_correlation(strip_i * taper, strip_j * taper, upsample_factor=upsample)
    best: tuple[np.ndarray, float] = (nominal, -1.0)
    for wrap_y in (0, -strip_i.shape[0], strip_i.shape[0]):
        for wrap_x in (0, -strip_i.shape[1], strip_i.shape[1]):
            offset = nominal + np.asarray(shift, dtype=np.float64) + (wrap_y, wrap_x)
            window_i, window_j = _overlap_windows(offset, tile_i.shape)
            if min(tile_i[window_i].size, tile_j[window_j].size) < 64:
                continue
            quality = _ncc(tile_i[window_i], tile_j[window_j])
            if quality > best[1]:
                best = (offset, quality)
    return best


def _neighbour_pairs(grid: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    index = {cell: k for k, cell in enumerate(grid)}
    pairs = []
    for k, (row, col) in enumerate(grid):
        for neighbour in ((row, col + 1), (row + 1, col)):
            if neighbour in index:
                pairs.append((k, index[neighbour]))
    return pairs


def _solve(n: int, pairs: list[tuple[int, int, np.ndarray, float]], nominal: np.ndarray,
           prior_weight: float) -> np.ndarray:
    """Weighted least squares for all positions: pair offsets plus a weak nominal prior."""
    rows, targets, weights = [], [], []
    for i, j, offset, weight in pairs:
        row = np.zeros(n)
        row[i], row[j] = -1.0, 1.0
        rows.append(row)
        targets.append(offset)
        weights.append(weight)
    for k in range(n):
        row = np.zeros(n)
        row[k] = 1.0
        rows.append(row)
        targets.append(nominal[k])
        weights.append(prior_weight)
    sqrt_w = np.sqrt(np.asarray(weights))[:, None]
    solution, *_ = np.linalg.lstsq(np.asarray(rows) * sqrt_w, np.asarray(targets) * sqrt_w, rcond=None)
    return solution


def estimate_tile_positions(
    load_tile: TileLoader,
    nominal_positions: np.ndarray,
    grid: Sequence[tuple[int, int]],
    *,
    max_shift_px: float = 40.0,
    min_overlap_px: int = 8,
    min_quality: float = 0.2,
    outlier_px: float = 3.0,
    progress: Callable[[str], None] | None = None,
) -> StitchResult:
    """Solve tile positions from the overlaps of grid neighbours.

    Parameters
    ----------
    load_tile
        ``load_tile(k)`` returns tile k as a (T_y, T_x) array; called on demand, two tiles at a
        time are in memory.
    nominal_positions
        (n, 2) stage positions (y, x) of the tile corners, px.
    grid
        (row, col) of every tile; neighbours are (row, col + 1) and (row + 1, col).
    max_shift_px
        Largest accepted deviation of a pairwise offset from the nominal one.
    min_overlap_px
        Smallest nominal overlap for a pair to be measured.
    min_quality
        Smallest normalised cross-correlation for a pair to be used.
    outlier_px
        Pairs whose offset disagrees with the solution by more than this are dropped.
    progress
        Optional callback receiving ``"pair k/n"`` lines.

    Returns
    -------
    StitchResult

    Raises
    ------
    InputDataError
        When a tile has no overlapping neighbour, or contains NaN/Inf.
    """
    nominal = np.asarray(nominal_positions, dtype=np.float64)
    n = len(nominal)
    shape = _check_finite(load_tile(0), 0).shape
    cache = lru_cache(maxsize=4)(lambda k: _check_finite(load_tile(k), k))
    candidates = [(i, j) for i, j in _neighbour_pairs(grid)
                  if min(shape[0] - abs(nominal[j, 0] - nominal[i, 0]),
                         shape[1] - abs(nominal[j, 1] - nominal[i, 1])) >= min_overlap_px]
    overlapping = {k for pair in candidates for k in pair}
    lonely = [k for k in range(n) if k not in overlapping]
    if n > 1 and lonely:
        raise InputDataError(f"tile {lonely[0]} (row {grid[lonely[0]][0]}, col {grid[lonely[0]][1]}) overlaps no "
                             f"neighbour by {min_overlap_px} px or more at its nominal position; tiles must overlap")
    measured = []
    for count, (i, j) in enumerate(candidates, start=1):
        offset, quality = measure_pair(cache(i), cache(j), nominal[j] - nominal[i])
        plausible = np.max(np.abs(offset - (nominal[j] - nominal[i]))) <= max_shift_px
        measured.append((i, j, offset, quality, bool(plausible and quality >= min_quality)))
        if progress is not None:
            progress(f"pair {count}/{len(candidates)}")
    return _robust_solution(n, measured, nominal, shape, outlier_px)


def _robust_solution(n: int, measured: list[tuple[int, int, np.ndarray, float, bool]], nominal: np.ndarray,
                     shape: tuple[int, ...], outlier_px: float) -> StitchResult:
    used = {(i, j) for i, j, _, _, ok in measured if ok}
    for _ in range(len(measured) + 1):
        equations = [(i, j, offset, max(quality, 1e-3) ** 2) for i, j, offset, quality, _ in measured
                     if (i, j) in used]
        solution = _solve(n, equations, nominal, prior_weight=1e-4)
        residuals = {(i, j): float(np.linalg.norm(solution[j] - solution[i] - offset))
                     for i, j, offset, _, _ in measured}
        worst = max(used, key=lambda pair: residuals[pair], default=None)
        if worst is None or residuals[worst] <= outlier_px:
            break
        used.discard(worst)
    positions = np.rint(solution - solution.min(axis=0)).astype(np.int64)
    pairs = [PairShift(i, j, (float(offset[0]), float(offset[1])), float(quality), (i, j) in used, residuals[(i, j)])
             for i, j, offset, quality, _ in measured]
    used_residuals = [pair.residual_px for pair in pairs if pair.used]
    rms = float(np.sqrt(np.mean(np.square(used_residuals)))) if used_residuals else 0.0
    mosaic = (int(positions[:, 0].max()) + shape[0], int(positions[:, 1].max()) + shape[1])
    return StitchResult(positions=positions, pairs=pairs, rms_residual_px=rms, mosaic_shape=mosaic)


def feather_weights(shape: tuple[int, ...], *, ramp: int) -> np.ndarray:
    """(T_y, T_x) float32 weights rising linearly over ``ramp`` px from each tile edge."""
    def profile(length: int) -> np.ndarray:
        k = np.arange(length)
        return np.minimum(np.minimum(k + 1, length - k), max(ramp, 1)).astype(np.float32)

    return np.outer(profile(shape[-2]), profile(shape[-1]))


def assemble_mosaic(
    load_tile: TileLoader,
    positions: np.ndarray,
    out: Any,
    *,
    block: int = 1024,
    ramp: int = 64,
    progress: Callable[[str], None] | None = None,
) -> None:
    """Blend tiles at ``positions`` into ``out`` block by block (linear feathering).

    Parameters
    ----------
    load_tile
        ``load_tile(k)`` returns tile k as (T_y, T_x) or (C, T_y, T_x).
    positions
        (n, 2) integer tile corners (y, x) in the frame of ``out``.
    out
        Writable (H, W) or (C, H, W) array (``numpy`` or ``zarr``); pixels no tile covers are 0.
    block
        Output block side; memory is bounded by the block and a few cached tiles.
    ramp
        Width of the linear blending ramp at tile edges, px.
    progress
        Optional callback receiving ``"block k/n"`` lines.
    """
    positions = np.asarray(positions, dtype=np.int64)
    cache = lru_cache(maxsize=6)(lambda k: _check_finite(np.asarray(load_tile(k), dtype=np.float32), k))
    tile_shape = cache(0).shape[-2:]
    weights = feather_weights(tile_shape, ramp=ramp)
    blocks = list(iter_blocks((int(out.shape[-2]), int(out.shape[-1])), block))
    for count, (y0, y1, x0, x1) in enumerate(blocks, start=1):
        total = np.zeros(out.shape[:-2] + (y1 - y0, x1 - x0), np.float32)
        weight_sum = np.zeros((y1 - y0, x1 - x0), np.float32)
        for k, (ty, tx) in enumerate(positions):
            oy0, oy1 = max(y0, ty), min(y1, ty + tile_shape[0])
            ox0, ox1 = max(x0, tx), min(x1, tx + tile_shape[1])
            if oy0 >= oy1 or ox0 >= ox1:
                continue
            w = weights[oy0 - ty:oy1 - ty, ox0 - tx:ox1 - tx]
            total[..., oy0 - y0:oy1 - y0, ox0 - x0:ox1 - x0] += cache(k)[..., oy0 - ty:oy1 - ty, ox0 - tx:ox1 - tx] * w
            weight_sum[oy0 - y0:oy1 - y0, ox0 - x0:ox1 - x0] += w
        out[..., y0:y1, x0:x1] = np.divide(total, weight_sum, out=np.zeros_like(total), where=weight_sum > 0)
        if progress is not None:
            progress(f"block {count}/{len(blocks)}")
