"""Tile positions from the overlaps of grid neighbours and one global weighted least-squares solve.

Pairwise offsets follow MIST [1]_ (see :mod:`stainworth.mosaic.pairs`): the overlap strips implied
by the stage's nominal positions are registered by phase correlation; the strongest peaks and
their periodic alternatives are scored by normalised cross-correlation (NCC) of the overlap they
imply, the best is improved by hill climbing on the NCC and refined to sub-pixel precision.
Positions then come from one weighted least-squares problem over all accepted pairs (Preibisch
et al. [3]_; see :mod:`stainworth.mosaic.solve`), never from chaining (ASHLAR [2]_ chains along a
shortest-path spanning tree), so one bad pair is outvoted by the other paths through the grid;
a pair the rest of the grid contradicts is dropped. A rejected pair is replaced by a weak
"stage model" constraint (the median offset of the accepted pairs in its direction, as MIST
does), so no tile is left floating.

References
----------
.. [1] Chalfoun J, Majurski M, Blattner T, Bhadriraju K, Keyrouz W, Bajcsy P, Brady M (2017).
       MIST: Accurate and scalable microscopy image stitching tool with stage modeling and error
       minimization. Sci Rep 7:4988. doi:10.1038/s41598-017-04567-y
.. [2] Muhlich JL, Chen YA, Yapp C, Russell D, Santagata S, Sorger PK (2022). Stitching and
       registering highly multiplexed whole-slide images of tissues and tumors using ASHLAR.
       Bioinformatics 38(19):4613-4621. doi:10.1093/bioinformatics/btac544
.. [3] Preibisch S, Saalfeld S, Tomancak P (2009). Globally optimal stitching of tiled 3D
       microscopic image acquisitions. Bioinformatics 25(11):1463-1465.
       doi:10.1093/bioinformatics/btp184
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from stainworth.errors import InputDataError
from stainworth.mosaic.pairs import PairMeasure, measure_pair, neighbour_pairs, prepare_tile
from stainworth.mosaic.solve import frame_positions, solve_positions

TileLoader = Callable[[int], np.ndarray]
"""``load_tile(k)`` returns tile k as (T_y, T_x) or (C, T_y, T_x)."""


@dataclass(frozen=True)
class StitchResult:
    """Solved tile positions and the pairwise measurements behind them.

    Attributes
    ----------
    positions
        (n, 2) float64 tile top-left corners (y, x) in the mosaic frame, px. The frame's global
        offset is free: it is chosen so that rounding moves the tiles least (see
        :func:`~stainworth.mosaic.solve.frame_positions`), and the smallest rounded y and x are 0.
        :func:`~stainworth.mosaic.blend.assemble_mosaic` rounds them.
    pair_table
        One dict per pair of grid neighbours: ``i``, ``j`` (tile indices), ``dy``, ``dx``
        (measured position of j minus position of i, px; NaN when nothing was found),
        ``nominal_dy``, ``nominal_dx``, ``quality`` (NCC of the overlap at that offset, -1..1),
        ``used`` (entered the final solve), ``residual`` (distance between the measured and
        the solved offset, px).
    rms_residual_px
        Root mean square of the residuals of the used pairs, px (0 when none was used).
    tile_shape
        (T_y, T_x) of the tiles.
    """

    positions: np.ndarray
    pair_table: list[dict[str, Any]]
    rms_residual_px: float
    tile_shape: tuple[int, int]

    @property
    def mosaic_shape(self) -> tuple[int, int]:
        """(H, W) of the mosaic holding every tile at its rounded position."""
        return mosaic_shape(self.positions, self.tile_shape)


def mosaic_shape(positions: np.ndarray, tile_shape: tuple[int, int]) -> tuple[int, int]:
    """(H, W) of the frame holding tiles of ``tile_shape`` at rounded ``positions`` (min >= 0).

    Parameters
    ----------
    positions
        (n, 2) tile corners (y, x), px.
    tile_shape
        (T_y, T_x).

    Returns
    -------
    tuple of int
    """
    corner = np.rint(np.asarray(positions, dtype=np.float64)).astype(np.int64).max(axis=0)
    return int(corner[0]) + int(tile_shape[0]), int(corner[1]) + int(tile_shape[1])


def estimate_tile_positions(
    load_tile: TileLoader,
    nominal_positions: np.ndarray,
    grid: Sequence[tuple[int, int]],
    tile_shape: tuple[int, int],
    *,
    channel: int | None = None,
    max_shift_px: float = 30.0,
    min_overlap_px: int = 16,
    min_quality: float = 0.3,
    outlier_px: float = 2.0,
    upsample: int = 10,
    highpass_sigma: float = 8.0,
    progress: Callable[[str], None] | None = None,
) -> StitchResult:
    """Solve tile positions from the overlaps of grid neighbours.

    Parameters
    ----------
    load_tile
        ``load_tile(k)`` returns tile k, (T_y, T_x) or (C, T_y, T_x), any real dtype. Called on
        demand; at most two tiles are held at a time (each tile is loaded up to three times).
    nominal_positions
        (n, 2) stage positions (y, x) of the tile top-left corners, px.
    grid
        (row, col) of every tile; the neighbours of (r, c) are (r, c + 1) and (r + 1, c).
    tile_shape
        (T_y, T_x) every tile must have.
    channel
        Channel of (C, T_y, T_x) tiles to register on (e.g. the label-free channel).
    max_shift_px
        Largest accepted deviation of a pair's offset from its nominal offset, per axis, px.
    min_overlap_px
        Smallest overlap (nominal, and implied by a candidate offset) to measure a pair, px.
    min_quality
        Smallest NCC of the overlap for a pair to enter the solve.
    outlier_px
        Pairs whose offset disagrees by more than this with the offset the other pairs imply
        (leave-one-out residual) are dropped, worst first, and the problem solved again.
    upsample
        Sub-pixel resolution of the pairwise offsets is ``1 / upsample`` px (1: whole pixels).
    highpass_sigma
        Width of the Gaussian subtracted from every tile before matching, px: removes slowly
        varying background such as the per-tile low frequencies of TIE phase retrieval.
    progress
        Optional callback receiving ``"stitch pair k/n"`` lines.

    Returns
    -------
    StitchResult

    Raises
    ------
    InputDataError
        A tile has the wrong shape or NaN/Inf pixels (the tile index is named), a tile overlaps
        no neighbour, or the tiles are not one connected grid.
    """
    nominal = np.asarray(nominal_positions, dtype=np.float64)
    tile_shape = (int(tile_shape[0]), int(tile_shape[1]))
    if nominal.ndim != 2 or nominal.shape[1] != 2 or len(nominal) != len(grid) or len(nominal) == 0:
        raise InputDataError(f"stitch: nominal positions of shape {nominal.shape} for {len(grid)} grid cells; "
                             "expected (n, 2) with one row per grid cell, n >= 1")
    pairs = neighbour_pairs(grid, nominal, tile_shape, min_overlap_px=min_overlap_px)
    measures: list[PairMeasure] = []

    def load(k: int) -> np.ndarray:
        return prepare_tile(load_tile(k), k, tile_shape, channel=channel, highpass_sigma=highpass_sigma)

    held: tuple[int, np.ndarray] | None = None
    for count, (i, j) in enumerate(pairs, start=1):
        if held is None or held[0] != i:
            held = (i, load(i))
        measures.append(measure_pair(held[1], load(j), nominal[j] - nominal[i], max_shift_px=max_shift_px,
                                     min_overlap_px=min_overlap_px, upsample=upsample))
        if progress is not None:
            progress(f"stitch pair {count}/{len(pairs)}")
    if len(nominal) == 1:
        load(0)  # validates the only tile
    return _solve_and_report(pairs, measures, nominal, tile_shape, min_quality=min_quality, outlier_px=outlier_px)


def _solve_and_report(pairs: list[tuple[int, int]], measures: list[PairMeasure], nominal: np.ndarray,
                      tile_shape: tuple[int, int], *, min_quality: float, outlier_px: float) -> StitchResult:
    accepted = [m.found and m.quality >= min_quality for m in measures]
    solution, used, residuals = solve_positions(len(nominal), pairs, measures, accepted, nominal,
                                                outlier_px=outlier_px)
    positions = frame_positions(solution)
    table = [{"i": i, "j": j, "dy": m.offset[0], "dx": m.offset[1],
              "nominal_dy": float(nominal[j, 0] - nominal[i, 0]), "nominal_dx": float(nominal[j, 1] - nominal[i, 1]),
              "quality": m.quality, "used": used[k], "residual": residuals[k]}
             for k, ((i, j), m) in enumerate(zip(pairs, measures, strict=True))]
    used_residuals = np.array([row["residual"] for row in table if row["used"]])
    rms = float(np.sqrt(np.mean(used_residuals**2))) if used_residuals.size else 0.0
    return StitchResult(positions=positions, pair_table=table, rms_residual_px=rms, tile_shape=tile_shape)
