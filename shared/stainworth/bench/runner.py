"""The local runner's overhead: one ``simulate`` run as a library call and through ``kfp.local``."""

from __future__ import annotations

import tempfile
from pathlib import Path

from stainworth.bench.table import Row, timed
from stainworth.profiles import load_profile


def bench_runner_overhead(profile_name: str) -> list[Row]:
    """The same simulate run as a library call and through the local runner."""
    from stainworth.launch.local import run_local
    from stainworth.phantom.publish import simulate_acquisitions

    profile = load_profile(profile_name)
    with tempfile.TemporaryDirectory(prefix="stainworth-bench-") as scratch:
        root = Path(scratch)
        direct = timed(lambda: simulate_acquisitions(profile.simulate, root / "direct",
                                                     store_uri=f"file://{root}/store-direct"))
        local = timed(lambda: run_local("simulate", profile, runs_dir=root / "runs",
                                        store_uri=f"file://{root}/store-local", echo=False))
    return [
        Row(f"simulate ({profile_name}) as a library call", direct, direct, "s", "reference"),
        Row(f"simulate ({profile_name}) through kfp.local", local, direct, "s",
            f"runner overhead {local - direct:.1f}s = {(local - direct) / local:.0%} of the run"),
    ]
