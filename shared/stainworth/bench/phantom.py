"""Phantom generation throughput and the projected time of a profile's data."""

from __future__ import annotations

import time

from stainworth.bench.table import Row
from stainworth.profiles import load_profile


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
