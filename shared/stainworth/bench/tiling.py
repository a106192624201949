"""``make bench``: whole-mosaic virtual staining (:func:`stainworth.stainers.tiling.stain_mosaic`).

What is measured
----------------
``predict`` is a small fixed network: three 3 x 3 convolutions of 16 channels (1 -> 16 -> 16 -> 1,
ReLU between them, seeded weights, padding 1), run by torch on the CPU with its default number
of threads, in ``channels_last`` memory format (faster on CPU for such convolutions) and under
``torch.inference_mode``.

- Overhead of the tiling machinery, on a ``sides[0]`` square numpy mosaic in memory: the wall time
  of :func:`~stainworth.stainers.tiling.stain_mosaic` against the same forward passes over the
  same tiles, pre-cut into in-memory batches before the clock starts (reading windows, reflection
  padding, weighting, blending and writing are what the ratio adds); best of two runs each.
  Goal: ratio <= 1.10.
- Peak memory and wall time at each side with zarr source and output on disk (chunks of 1024 px,
  zstd; the source is a synthetic pattern written block by block, never whole in memory), each in
  a fresh process (its own ``VmHWM``, see :data:`~stainworth.bench.table.PEAK_RSS_SNIPPET`), like
  the stitch + register rows. The reference of the peak is the first side's: flat means bounded
  by tiles and chunks, not area.
  The process's peak is mostly torch and the network's activations (its value after one warm-up
  batch, before staining, is in the note), so the peak of the allocations ``stain_mosaic``
  itself makes (tracemalloc: numpy and Python objects, not torch tensors) is given as well, from
  a first, traced run (tracemalloc slows the many small allocations of zarr's codecs by about 5%).
  The wall time is that of a second, untraced run; its reference is measured in the same
  process, just before and just after it: the bare forward time per tile over
  :data:`REFERENCE_BATCHES` batches of the mosaic's own tiles (cut before the clock starts),
  times the number of tiles. The ratio is the cost of reading and writing zarr on top of the
  network (goal <= 1.10), free of the drift between processes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from stainworth.bench.table import PEAK_RSS_SNIPPET, Row, timed


def _tiny_net_predict(seed: int = 0) -> Callable[[np.ndarray], np.ndarray]:
    """A seeded 3-layer, 16-channel convolutional network as a numpy ``predict`` function."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
                        nn.Conv2d(16, 1, 3, padding=1)).eval().to(memory_format=torch.channels_last)

    def predict(batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))
            return net(x.contiguous(memory_format=torch.channels_last)).contiguous().numpy()

    return predict


def _pattern(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """A cheap deterministic label-free-like pattern of a window, float32."""
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    return (0.5 + 0.25 * np.sin(yy / 37.0) * np.cos(xx / 53.0) + 0.1 * np.sin((yy + 2 * xx) / 7.0)).astype(np.float32)


def _write_source(path: Path, side: int) -> None:
    """A (side, side) float32 zarr of :func:`_pattern`, written block by block."""
    from stainworth.mosaic.chunked import create_array, iter_blocks

    array = create_array(path, (side, side))
    for y0, y1, x0, x1 in iter_blocks((side, side), 2048):
        array[y0:y1, x0:x1] = _pattern(y0, y1, x0, x1)


REFERENCE_BATCHES = 16
"""Batches of tiles over which the zarr rows' bare forward time per tile is measured."""

STAIN_CHILD = PEAK_RSS_SNIPPET + """
import json, sys, time, tracemalloc
import numpy as np
from stainworth.bench.tiling import REFERENCE_BATCHES, _tiny_net_predict
from stainworth.mosaic.chunked import create_array, open_array, read_window
from stainworth.stainers.tile_layout import tile_grid
from stainworth.stainers.tiling import stain_mosaic
source = open_array(sys.argv[1])
out = create_array(sys.argv[2], source.shape)
tile, overlap, batch = (int(v) for v in sys.argv[3:6])
predict = _tiny_net_predict()
corners = tile_grid(source.shape, tile, overlap)
height, width = source.shape
tiles = [np.pad(np.asarray(read_window(source, y, min(y + tile, height), x, min(x + tile, width))),
                ((0, tile - min(tile, height - y)), (0, tile - min(tile, width - x))), mode="reflect")[None]
         for y, x in corners[:REFERENCE_BATCHES * batch]]
sample = [np.stack(tiles[k:k + batch]) for k in range(0, len(tiles), batch)]
predict(sample[0])
before = peak_rss_mb()

def bare_per_tile():
    started = time.perf_counter()
    for item in sample:
        predict(item)
    return (time.perf_counter() - started) / len(tiles)

tracemalloc.start()
stain_mosaic(predict, source, out, tile=tile, overlap=overlap, batch=batch)
traced = tracemalloc.get_traced_memory()[1] / 2**20
tracemalloc.stop()
per_tile = [bare_per_tile()]
started = time.perf_counter()
stain_mosaic(predict, source, out, tile=tile, overlap=overlap, batch=batch)
seconds = time.perf_counter() - started
per_tile.append(bare_per_tile())
corner = np.asarray(out[-tile:, -tile:])
print(json.dumps({"seconds": seconds, "bare_seconds": sum(per_tile) / 2 * len(corners), "peak_mb": peak_rss_mb(),
                  "before_mb": before, "traced_mb": traced, "tiles": len(corners),
                  "finite": bool(np.isfinite(corner).all())}))
"""


def bench_stain_mosaic(sides: tuple[int, ...] = (4096, 16384), tile: int = 512, overlap: int = 64,
                       batch: int = 4) -> list[Row]:
    """Tiling overhead against bare forward passes, and peak memory and time per side from zarr on disk.

    Parameters
    ----------
    sides
        Sides of the square mosaics, px; the first one is also used for the overhead and as the
        memory reference.
    tile, overlap, batch
        Passed to :func:`~stainworth.stainers.tiling.stain_mosaic`.

    Returns
    -------
    list of Row
    """
    from stainworth.mosaic.chunked import read_window
    from stainworth.stainers.tile_layout import tile_grid
    from stainworth.stainers.tiling import stain_mosaic

    predict = _tiny_net_predict()
    first = sides[0]
    source = _pattern(0, first, 0, first)
    out = np.empty_like(source)
    corners = tile_grid((first, first), tile, overlap)
    tiles = np.stack([np.pad(window, ((0, tile - window.shape[0]), (0, tile - window.shape[1])), mode="reflect")
                      for window in (read_window(source, y, min(y + tile, first), x, min(x + tile, first))
                                     for y, x in corners)])[:, None]
    batches = [np.ascontiguousarray(tiles[k:k + batch]) for k in range(0, len(tiles), batch)]
    predict(batches[0])  # warm up

    def bare() -> None:
        for item in batches:
            predict(item)

    bare_s, tiling_s = float("inf"), float("inf")
    for _ in range(2):  # alternate, so that a slow spell of the machine hits both
        bare_s = min(bare_s, timed(bare))
        tiling_s = min(tiling_s, timed(lambda: stain_mosaic(predict, source, out, tile=tile, overlap=overlap,
                                                            batch=batch)))
    rows = [
        Row(f"stain_mosaic {first}x{first} px (numpy in memory): wall time", tiling_s, bare_s, "s",
            f"reference: bare forward passes over the same {len(corners)} tiles ({tile} px, overlap {overlap}, "
            f"batch {batch}) pre-cut in memory; goal ratio <= 1.10"),
        Row(f"stain_mosaic {first}x{first} px (numpy in memory): throughput", first * first / tiling_s / 1e6, None,
            "Mpx/s", f"tiny conv net (3 layers, 16 channels) on {_threads()} CPU threads"),
    ]
    results = {}
    for side in sides:
        with tempfile.TemporaryDirectory(prefix="stainworth-bench-") as scratch:
            root = Path(scratch)
            _write_source(root / "source.zarr", side)
            output = subprocess.run([sys.executable, "-c", STAIN_CHILD, str(root / "source.zarr"),
                                     str(root / "out.zarr"), str(tile), str(overlap), str(batch)],
                                    capture_output=True, text=True, check=True)
            results[side] = json.loads(output.stdout.strip().splitlines()[-1])
    reference, traced = results[first]["peak_mb"], results[first]["traced_mb"]
    for side, result in results.items():
        name = f"stain_mosaic {side}x{side} px (zarr on disk)"
        finite = "" if result["finite"] else "; NON-FINITE output in the last tile"
        rows += [
            Row(f"{name}: peak memory", result["peak_mb"], reference, "MB",
                f"fresh process; {result['before_mb']:.0f} MB before stain_mosaic (torch, net, one batch, the "
                f"reference's {REFERENCE_BATCHES} batches of tiles); "
                f"reference: the {first} px mosaic; goal: flat{finite}"),
            Row(f"{name}: peak of its own allocations", result["traced_mb"], traced, "MB",
                "tracemalloc peak during stain_mosaic: numpy and Python allocations (windows, chunk caches, zarr), "
                "not torch's; goal: flat and far below the mosaic's size"),
            Row(f"{name}: wall time", result["seconds"], result["bare_seconds"], "s",
                f"{result['tiles']} tiles, {side * side / result['seconds'] / 1e6:.2f} Mpx/s, a second, untraced "
                f"run; reference: bare forward time per tile over {REFERENCE_BATCHES} batches of its tiles, "
                f"measured before and after it in the same process, x tiles (ratio: zarr I/O and blending on "
                f"top of the network); goal ratio <= 1.10"),
        ]
    return rows


def _threads() -> int:
    import torch

    return int(torch.get_num_threads())
