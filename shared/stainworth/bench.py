"""``make bench``: speed measured side by side in one run, printed as a table.

Rows so far:

- phantom generation throughput (tile megapixels per second, all channels and ground truth) and
  the projected time of the ``mini`` profile's data against its one-minute goal;
- the local runner's overhead: the same ``simulate`` configuration run as a bare library call and
  through ``kfp.local`` (child process, executor, artifact bookkeeping), as a share of the run.
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
    print(format_table(rows), flush=True)
    return rows
