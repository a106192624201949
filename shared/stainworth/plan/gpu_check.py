"""``make gpu-check``: what one GPU achieves on the paper units, before a team spends a GPU-day.

On one CUDA device, in a few minutes: the dense bf16 matmul rate (the reference), then for every
distinct network of the profile's pipelines (each task-network unit and both stainers, at the
profile's image size and batch) one bf16 training step to warm up and a short timed loop: achieved
FLOP/s against that rate, seconds per step and peak memory
(:func:`stainworth.plan.probe.probe_network`); and the throughput of tiled whole-mosaic staining
(:func:`stainworth.stainers.tiling.stain_mosaic`) with the profile's EfficientUNet stainer on a
4,096² mosaic. The share of the peak it finds is what ``make plan --share`` should be given. It
prints one table and writes it as JSON. Without a CUDA device it refuses with one line.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from stainworth.contracts.profile import Profile
from stainworth.errors import ConfigError
from stainworth.plan.probe import ProbeResult, ProbeSpec
from stainworth.plan.report import probe_spec
from stainworth.plan.units import PLANNED_PIPELINES, planned_units

MOSAIC_SIDE = 4096
GPU_MATMUL_SIDE = 8192
"""Side of the bf16 matrices of the peak (large enough to fill a data-centre GPU)."""
STAINING_BATCH = 4
"""Tiles per forward pass of the staining row (the profile's tile size; a batch that fits any 40 GB GPU)."""


@dataclass(frozen=True)
class CheckRow:
    """One measured line of the table."""

    what: str
    value: float
    unit: str
    share_of_peak: float | None = None
    seconds_per_step: float | None = None
    peak_memory_gib: float | None = None
    note: str = ""


def require_cuda() -> str:
    """The CUDA device's name, or :class:`ConfigError` (one line) when torch sees none."""
    import torch

    if not torch.cuda.is_available():
        raise ConfigError("gpu-check: torch sees no CUDA device here (torch.cuda.is_available() is False); "
                          "run it on a node of the GPU pool, e.g. in a pod of the stainworth-cuda image")
    return str(torch.cuda.get_device_name())


def check_specs(profile: Profile) -> list[ProbeSpec]:
    """Every distinct network the profile's pipelines train, in bf16 (the task networks, then the stainers)."""
    specs = [replace(probe_spec(profile, unit), bf16=True)
             for pipeline in PLANNED_PIPELINES for unit in planned_units(profile, pipeline)]
    unique = list(dict.fromkeys(specs))
    return sorted(unique, key=lambda spec: (spec.kind == "stainer", spec.size, spec.name))


def network_row(spec: ProbeSpec, result: ProbeResult, peak_flops: float) -> CheckRow:
    """Achieved training FLOP/s of one network against the matmul peak."""
    rate = result.train_flops_per_item * spec.batch / result.seconds_per_step
    return CheckRow(f"train {spec.kind} {spec.name} ({spec.size} px, batch {spec.batch})", rate / 1e12, "TFLOP/s",
                    share_of_peak=rate / peak_flops, seconds_per_step=result.seconds_per_step,
                    peak_memory_gib=result.peak_bytes / 1024**3,
                    note=f"{result.parameters:,} parameters; {result.train_flops_per_item / 1e9:.1f} GFLOP per item")


def staining_throughput(profile: Profile, *, side: int = MOSAIC_SIDE, device: str = "cuda") -> CheckRow:
    """Whole-mosaic staining with a freshly built EfficientUNet stainer, megapixels per second."""
    import numpy as np
    import torch

    from stainworth.stainers.adapters import build_stainer
    from stainworth.stainers.tiling import stain_mosaic

    config = profile.stain.training.model_copy(update={"architecture": "efficientunet"})
    generator = build_stainer(config, device=device).generator.eval()
    synchronise = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    apply = profile.stain.apply

    def predict(batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode(), torch.autocast(device, dtype=torch.bfloat16):
            return generator(torch.from_numpy(batch).to(device)).float().cpu().numpy()

    source = np.random.default_rng(0).random((side, side), dtype=np.float32)
    out = np.empty_like(source)
    predict(source[None, None, :apply.tile_px, :apply.tile_px].copy())  # warm up
    synchronise()
    started = time.perf_counter()
    stain_mosaic(predict, source, out, tile=apply.tile_px, overlap=apply.overlap_px, batch=STAINING_BATCH)
    synchronise()
    seconds = time.perf_counter() - started
    if not np.isfinite(out).all():
        raise ConfigError(f"gpu-check: staining the {side}² mosaic gave non-finite values")
    return CheckRow(f"stain a {side}² mosaic (EfficientUNet, {apply.tile_px} px tiles, overlap {apply.overlap_px})",
                    side * side / seconds / 1e6, "Mpx/s", seconds_per_step=seconds,
                    note=f"batch {STAINING_BATCH} tiles, bf16, numpy in memory; seconds per step = the whole mosaic")


def gpu_check(profile: Profile, *, steps: int = 5, measure: Callable[[ProbeSpec, int], ProbeResult] | None = None,
              peak: Callable[[], float] | None = None, staining: Callable[[Profile], CheckRow] | None = None,
              device: Callable[[], str] = require_cuda, progress: Callable[[str], None] = print) -> dict[str, object]:
    """Run every measurement of the module docstring; returns the table as a JSON-ready dict.

    ``measure``, ``peak`` and ``staining`` replace the CUDA measurements (tests).
    """
    from stainworth.nets.flops import matmul_rate
    from stainworth.plan.probe import probe_network

    name = device()
    if steps < 1:
        raise ConfigError(f"steps: found {steps}; expected an integer >= 1")
    started = time.perf_counter()
    measure = measure or (lambda spec, n: probe_network(spec, timed_steps=n))
    if peak is None:
        import torch

        peak_flops = matmul_rate(torch.bfloat16, device="cuda", side=GPU_MATMUL_SIDE)
    else:
        peak_flops = peak()
    rows = [CheckRow(f"matmul peak (bf16, {GPU_MATMUL_SIDE}²)", peak_flops / 1e12, "TFLOP/s",
                     share_of_peak=1.0, note="the reference of the share column")]
    specs = check_specs(profile)
    for k, spec in enumerate(specs, start=1):
        progress(f"gpu-check {k}/{len(specs)}: {spec.kind} {spec.name} at {spec.size} px, batch {spec.batch}")
        rows.append(network_row(spec, measure(spec, steps), peak_flops))
    progress("gpu-check: whole-mosaic staining")
    rows.append((staining or staining_throughput)(profile))
    return {"device": name, "profile": profile.name, "steps": steps, "seconds": time.perf_counter() - started,
            "rows": [asdict(row) for row in rows]}


def format_check(result: dict[str, object]) -> str:
    """The table as Markdown."""
    lines = [f"gpu-check on {result['device']} (profile {result['profile']}, {result['steps']} timed steps each)", "",
             "| what | value | unit | share of peak | s/step | peak memory GiB | note |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    rows = result["rows"]
    assert isinstance(rows, list)
    for row in rows:
        cells = [row["what"], f"{row['value']:.3g}", row["unit"]]
        cells += ["–" if row[key] is None else f"{row[key]:{fmt}}" for key, fmt in
                  (("share_of_peak", ".0%"), ("seconds_per_step", ".3g"), ("peak_memory_gib", ".2f"))]
        lines.append("| " + " | ".join([*map(str, cells), row["note"]]) + " |")
    return "\n".join(lines)


def write_check(result: dict[str, object], path: str | Path) -> Path:
    """The result as JSON at ``path``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=2))
    return target
