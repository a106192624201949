"""``make bench``: speed measured side by side in one run, printed as a table.

Rows so far:

- phantom generation throughput (tile megapixels per second, all channels and ground truth) and
  the projected time of the ``mini`` profile's data against its one-minute goal;
- the local runner's overhead: the same ``simulate`` configuration run as a bare library call and
  through ``kfp.local`` (child process, executor, artifact bookkeeping), as a share of the run;
- stitch + register of phantom mosaics of about 4096² and 8192² px, each in a fresh process:
  wall time, peak memory (should not grow with the area), tile position error and registration
  error against the phantom's ground truth.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from stainworth.profiles import load_profile


@dataclass(frozen=True)
class Row:
    """One line of the benchmark table."""

    measure: str
    value: float
    reference: float | None
    unit: str
    note: str

    @property
    def ratio(self) -> str:
        """Value over reference, formatted (``—`` without a reference)."""
        return f"{self.value / self.reference:.2f}" if self.reference else "—"


def _time(function) -> float:  # noqa: ANN001
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def bench_phantom(profile_name: str) -> list[Row]:
    """Phantom throughput on one field of ``profile_name`` and the projected data time."""
    from stainworth.phantom import generate_acquisition

    simulate = load_profile(profile_name).simulate
    generate_acquisition(simulate.phantom, condition="control", seed=1)  # warm caches and imports
    seconds = {}
    megapixels = 0.0
    for condition in ("control", "treated"):
        started = time.perf_counter()
        acquisition = generate_acquisition(simulate.phantom, condition=condition, seed=2)
        seconds[condition] = time.perf_counter() - started
        megapixels += sum(tile.size for tile in acquisition.qpi_tiles) / 1e6
    total = sum(seconds.values())
    fields = simulate.fields_per_condition * len(simulate.conditions)
    projected = total / 2 * fields
    return [
        Row(f"phantom throughput ({profile_name} field)", megapixels / total, None, "Mpx/s",
            "tile megapixels (QPI + 2 fluorescence channels + ground truth) per second"),
        Row(f"phantom data time ({profile_name}: {fields} fields)", projected, 60.0, "s",
            "projected from the fields above; goal: well under 60 s"),
    ]


def bench_runner_overhead(profile_name: str) -> list[Row]:
    """The same simulate run as a library call and through the local runner."""
    from stainworth.runner.local import run_local
    from stainworth.stages.simulate import simulate_acquisitions

    profile = load_profile(profile_name)
    with tempfile.TemporaryDirectory(prefix="stainworth-bench-") as scratch:
        root = Path(scratch)
        direct = _time(lambda: simulate_acquisitions(profile.simulate, root / "direct",
                                                     store_uri=f"file://{root}/store-direct"))
        local = _time(lambda: run_local("simulate", profile, runs_dir=root / "runs",
                                        store_uri=f"file://{root}/store-local", echo=False))
    return [
        Row(f"simulate ({profile_name}) as a library call", direct, direct, "s", "reference"),
        Row(f"simulate ({profile_name}) through kfp.local", local, direct, "s",
            f"runner overhead {local - direct:.1f}s = {(local - direct) / local:.0%} of the run"),
    ]


def format_table(rows: list[Row]) -> str:
    """A Markdown table of the rows."""
    lines = ["| measure | value | reference | ratio | note |", "| --- | ---: | ---: | ---: | --- |"]
    for row in rows:
        reference = f"{row.reference:.2f} {row.unit}" if row.reference else "—"
        lines.append(f"| {row.measure} | {row.value:.2f} {row.unit} | {reference} | {row.ratio} | {row.note} |")
    return "\n".join(lines)


def run_benchmarks(*, quick: bool = False) -> list[Row]:
    """Run every benchmark and print the table; ``quick`` uses the smoke profile only."""
    profiles = ["smoke"] if quick else ["smoke", "mini"]
    rows: list[Row] = []
    for name in profiles:
        print(f"bench: phantom ({name})", flush=True)
        rows += bench_phantom(name)
    for name in profiles:
        print(f"bench: local runner overhead ({name})", flush=True)
        rows += bench_runner_overhead(name)
    print("bench: stitch + register", flush=True)
    rows += bench_stitch_register((2048, 4096) if quick else (4096, 8192))
    print(format_table(rows), flush=True)
    return rows


def _mosaic_case(side: int, folder: Path) -> tuple[int, int]:
    """Write a phantom acquisition whose mosaic is about ``side`` px square; return its shape."""
    from stainworth.contracts.phantom import PhantomConfig
    from stainworth.io.acquisition import write_phantom_acquisition
    from stainworth.phantom import generate_acquisition

    tile, overlap = 1024, 0.1
    step = round(tile * (1 - overlap))
    count = max(round((side - tile) / step) + 1, 2)
    config = PhantomConfig(acquisition={"rows": count, "cols": count, "tile_size_px": tile, "overlap": overlap})
    acquisition = generate_acquisition(config, condition="control", seed=5)
    write_phantom_acquisition(acquisition, folder, acquisition_id=f"bench-{side}", config=config, overlap=overlap)
    return acquisition.mosaic_shape


STITCH_REGISTER_CHILD = """
import json, resource, sys, time
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
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **metrics}))
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
            shape = _mosaic_case(side, root / "acquisition")
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
