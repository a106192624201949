"""Stitch + register of phantom mosaics of growing size, each in a fresh process: time, memory, errors."""

from __future__ import annotations

import tempfile
from pathlib import Path

from stainworth.bench.table import PEAK_RSS_SNIPPET, Row


def phantom_mosaic_case(side: int, folder: Path) -> tuple[int, int]:
    """Write a phantom acquisition whose mosaic is about ``side`` px square; return its shape."""
    from stainworth.contracts.phantom import PhantomConfig
    from stainworth.phantom import generate_acquisition
    from stainworth.phantom.folder import write_phantom_acquisition

    tile, overlap = 1024, 0.1
    step = round(tile * (1 - overlap))
    count = max(round((side - tile) / step) + 1, 2)
    config = PhantomConfig(acquisition={"rows": count, "cols": count, "tile_size_px": tile, "overlap": overlap})
    acquisition = generate_acquisition(config, condition="control", seed=5)
    write_phantom_acquisition(acquisition, folder, acquisition_id=f"bench-{side}", config=config, overlap=overlap)
    return acquisition.mosaic_shape


STITCH_REGISTER_CHILD = PEAK_RSS_SNIPPET + """
import json, sys, time
from pathlib import Path
from stainworth.contracts.fields import FieldsManifest
from stainworth.contracts.manifest import write_manifest
from stainworth.contracts.prepare import RegisterConfig, StitchConfig
from stainworth.stages.register import register_fields
from stainworth.stages.stitch import stitch_acquisition
folder, out = Path(sys.argv[1]), Path(sys.argv[2])
started = time.perf_counter()
field = stitch_acquisition(StitchConfig(), folder, out / "stitched")
stitched = time.perf_counter()
write_manifest(FieldsManifest(stage="stitch", config={}, config_hash="0" * 64,
                              fields={field.acquisition_id: field}), out / "stitched")
registered = register_fields(RegisterConfig(), out / "stitched", out / "registered")
done = time.perf_counter()
metrics = registered.fields[field.acquisition_id].metrics | field.metrics
print(json.dumps({"stitch_s": stitched - started, "register_s": done - stitched,
                  "peak_mb": peak_rss_mb(), **metrics}))
"""


def bench_stitch_register(sides: tuple[int, ...] = (4096, 8192)) -> list[Row]:
    """Stitch + register phantom mosaics of growing size in a fresh process each: time, peak memory, errors."""
    import json
    import subprocess
    import sys

    rows: list[Row] = []
    results = {}
    for side in sides:
        with tempfile.TemporaryDirectory(prefix="stainworth-bench-") as scratch:
            root = Path(scratch)
            shape = phantom_mosaic_case(side, root / "acquisition")
            output = subprocess.run([sys.executable, "-c", STITCH_REGISTER_CHILD, str(root / "acquisition"),
                                     str(root / "out")], capture_output=True, text=True, check=True)
            results[side] = (shape, json.loads(output.stdout.strip().splitlines()[-1]))
    first = results[sides[0]][1]
    for shape, result in results.values():
        name = f"{shape[0]}x{shape[1]} px"
        rows += [
            Row(f"stitch + register {name}: wall time", result["stitch_s"] + result["register_s"], None, "s",
                f"stitch {result['stitch_s']:.1f} s, register {result['register_s']:.1f} s"),
            Row(f"stitch + register {name}: peak memory", result["peak_mb"], first["peak_mb"], "MB",
                f"reference: the {results[sides[0]][0][0]} px mosaic; flat means bounded by blocks, not area"),
            Row(f"stitch {name}: tile position error (max)", result["position_error_px_max"], 1.0, "px", "goal < 1 px"),
            Row(f"register {name}: error vs true affine (RMS)", result["registration_error_px_rms"], 0.5, "px",
                "goal < 0.5 px"),
        ]
    return rows
