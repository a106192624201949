"""``make bench``: stainworth's stitcher against ASHLAR [1]_ on the same phantom tiles.

What is compared
----------------
One phantom acquisition (tiles of 1024 px, 10 % overlap, a grid about ``side`` px square; built
as for the stitch + register rows of :mod:`stainworth.bench`) is stitched twice, one stitcher
after the other in the same process:

- stainworth: :func:`stainworth.mosaic.estimate_tile_positions` (MIST-style pairwise phase
  correlation + one global weighted least-squares solve), default settings;
- ASHLAR: ``ashlar.reg.EdgeAligner(...).run()`` (phase correlation of the overlaps, error
  threshold from a permutation test on non-overlapping strips, positions chained along a
  shortest-path spanning tree), with the settings of its command line for a single cycle
  (``alpha`` 0.01, ``filter_sigma`` 0, no thumbnail), fed through an in-memory
  ``Reader``/``Metadata`` with a pixel size of 1 so that its ``max_shift`` is in px.

Both get the same label-free (QPI) tiles, read into memory before timing so that the times are
computation only, the same nominal stage positions, and the same largest accepted deviation of
a pair from its nominal offset, per axis (:class:`~stainworth.contracts.prepare.StitchConfig`'s
``max_shift_px``). ASHLAR is imported, which starts its Java VM (pyjnius, Bio-Formats), before
either clock starts.

Error
-----
A stitcher's positions are compared with the phantom's true tile positions (the ground-truth
geometry's ``true_positions_yx``) after removing the mean offset between the two, since the
frame's origin is free: ``e_k = |p_k - t_k - mean_k(p_k - t_k)|`` per tile k, reported as the
maximum and the root mean square over tiles, in px. The same error of the nominal stage
positions (the phantom's stage jitter) is given in the notes for scale.

References
----------
.. [1] Muhlich JL, Chen YA, Yapp C, Russell D, Santagata S, Sorger PK (2022). Stitching and
       registering highly multiplexed whole-slide images of tissues and tumors using ASHLAR.
       Bioinformatics 38(19):4613-4621. doi:10.1093/bioinformatics/btac544
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stainworth.bench.mosaic import phantom_mosaic_case
from stainworth.bench.table import Row


@dataclass(frozen=True)
class StitcherRun:
    """Tile positions one stitcher found, and how long it took."""

    name: str
    positions: np.ndarray
    """(n, 2) tile top-left corners (y, x), px, in the stitcher's own frame."""
    seconds: float


@dataclass(frozen=True)
class StitchCase:
    """A phantom grid's tiles, stage positions and truth, and each stitcher's result on it."""

    nominal: np.ndarray
    true: np.ndarray
    runs: list[StitcherRun]


def position_errors(positions: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Per-tile distance between ``positions`` and ``true`` after removing their mean offset, px."""
    difference = np.asarray(positions, dtype=np.float64) - np.asarray(true, dtype=np.float64)
    return np.linalg.norm(difference - difference.mean(axis=0), axis=1)


def _ashlar_positions(tiles: list[np.ndarray], nominal: np.ndarray, max_shift_px: float) -> np.ndarray:
    """ASHLAR's EdgeAligner on in-memory tiles (``ashlar.reg`` must already be imported)."""
    from ashlar import reg

    class Metadata(reg.Metadata):
        @property
        def _num_images(self) -> int:
            return len(tiles)

        @property
        def num_channels(self) -> int:
            return 1

        @property
        def pixel_size(self) -> float:
            return 1.0

        @property
        def pixel_dtype(self) -> np.dtype:
            return tiles[0].dtype

        def tile_position(self, i: int) -> np.ndarray:
            return nominal[i].astype(np.float64)

        def tile_size(self, i: int) -> np.ndarray:
            return np.array(tiles[i].shape, dtype=int)

    class Reader(reg.Reader):
        metadata = Metadata()

        def read(self, series: int, c: int) -> np.ndarray:
            return tiles[series]

    aligner = reg.EdgeAligner(Reader(), channel=0, max_shift=max_shift_px, filter_sigma=0.0,
                              do_make_thumbnail=False, verbose=False)
    aligner.run()
    return np.asarray(aligner.positions, dtype=np.float64)


def run_stitchers(folder: Path) -> StitchCase:
    """Stitch the phantom acquisition in ``folder`` with stainworth, then with ASHLAR."""
    import ashlar.reg  # noqa: F401  (starts the JVM here, outside the timed part)

    from stainworth.contracts.prepare import StitchConfig
    from stainworth.io.acquisition import load_tile, read_acquisition
    from stainworth.mosaic import estimate_tile_positions

    acquisition = read_acquisition(folder)
    geometry = json.loads((folder / acquisition.ground_truth["geometry"]).read_text())
    true = np.asarray(geometry["true_positions_yx"], dtype=np.float64)
    nominal = np.array([tile.position_yx for tile in acquisition.tiles], dtype=np.float64)
    grid = [(tile.row, tile.col) for tile in acquisition.tiles]
    tiles = [load_tile(folder, tile, "label_free") for tile in acquisition.tiles]
    max_shift = float(StitchConfig().max_shift_px)

    started = time.perf_counter()
    ours = estimate_tile_positions(lambda k: tiles[k], nominal, grid, acquisition.tile_size_yx,
                                   max_shift_px=max_shift)
    ours_s = time.perf_counter() - started
    started = time.perf_counter()
    theirs = _ashlar_positions(tiles, nominal, max_shift)
    theirs_s = time.perf_counter() - started
    return StitchCase(nominal=nominal, true=true, runs=[StitcherRun("stainworth", ours.positions, ours_s),
                                                       StitcherRun("ASHLAR", theirs, theirs_s)])


CHILD = """
import json, sys
from pathlib import Path
from stainworth.bench.stitchers import run_stitchers
case = run_stitchers(Path(sys.argv[1]))
print(json.dumps({"nominal": case.nominal.tolist(), "true": case.true.tolist(),
                  "runs": [{"name": r.name, "positions": r.positions.tolist(), "seconds": r.seconds}
                           for r in case.runs]}))
"""


def run_stitchers_in_child(folder: Path) -> StitchCase:
    """:func:`run_stitchers` in a fresh interpreter.

    ASHLAR's JVM (and the signal handlers it installs) then never lives in the calling process,
    where torch runs next.
    """
    import subprocess
    import sys

    output = subprocess.run([sys.executable, "-c", CHILD, str(folder)], capture_output=True, text=True, check=True)
    data = json.loads(output.stdout.strip().splitlines()[-1])
    return StitchCase(nominal=np.asarray(data["nominal"]), true=np.asarray(data["true"]),
                      runs=[StitcherRun(r["name"], np.asarray(r["positions"]), float(r["seconds"]))
                            for r in data["runs"]])


def stitcher_rows(case: StitchCase, label: str) -> list[Row]:
    """Benchmark rows of a :class:`StitchCase`: errors and time per stitcher, then the time ratio."""
    stage = position_errors(case.nominal, case.true)
    rows: list[Row] = []
    for run in case.runs:
        error = position_errors(run.positions, case.true)
        rows += [
            Row(f"{run.name} stitch {label}: tile position error (max)", float(error.max()), None, "px",
                f"vs true positions, mean offset removed; stage positions alone: {stage.max():.2f} px"),
            Row(f"{run.name} stitch {label}: tile position error (RMS)", float(np.sqrt(np.mean(error**2))), None,
                "px", f"stage positions alone: {np.sqrt(np.mean(stage**2)):.2f} px"),
            Row(f"{run.name} stitch {label}: wall time", run.seconds, None, "s",
                f"{len(run.positions)} tiles in memory, positions only"),
        ]
    seconds = {run.name: run.seconds for run in case.runs}
    rows.append(Row(f"ASHLAR time / stainworth time ({label})", seconds["ASHLAR"], seconds["stainworth"], "s",
                    "ratio > 1: ASHLAR is slower; same tiles, same process, one after the other"))
    return rows


def bench_stitchers(side: int = 4096) -> list[Row]:
    """Stitch one phantom grid about ``side`` px square with stainworth and ASHLAR; errors and times."""
    with tempfile.TemporaryDirectory(prefix="stainworth-bench-") as scratch:
        folder = Path(scratch) / "acquisition"
        shape = phantom_mosaic_case(side, folder)
        case = run_stitchers_in_child(folder)
    return stitcher_rows(case, f"{shape[0]}x{shape[1]} px")
