"""What a local run spends around the stages' own work, and how fast the task networks train.

Orchestration: every finished stage prints ``stainworth-timing: <stage> work <s> process <s>``
(:mod:`stainworth.runner.stage_entry`): the seconds of the stage's own work and of its task
process so far. Their difference is what starting the process, importing torch and the stage, and
validating cost. :func:`bench_orchestration` reads the newest local run of a pipeline and profile
under ``runs/`` (``make submit`` writes one) and reports that share of the task processes' time,
beside the run's wall time. kfp.local's bookkeeping between task processes is not in it (the
runner-overhead row measures it for ``simulate``).

Training efficiency: :func:`bench_training_efficiency` counts the floating-point operations of one
training step (forward, loss, backward; :mod:`stainworth.nets.flops`, grouped convolutions counted
right) of every network of a profile's ladders at the profile's image size, batch size, precision
and memory format, times the step, and compares the achieved rate with the machine's dense matmul
rate measured in the same process and precision.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import torch

from stainworth.bench.table import Row
from stainworth.profiles import load_profile

TIMING = re.compile(r"stainworth-timing: (?P<stage>\S+) work (?P<work>[\d.]+) process (?P<process>[\d.]+)")
STAMP = re.compile(r"^(?P<h>\d\d):(?P<m>\d\d):(?P<s>\d\d\.\d+) - ", re.MULTILINE)
DONE = re.compile(r"Pipeline '[^']+' finished with status SUCCESS")
MATMUL_SIDE = 2048


def newest_run(runs_dir: str | Path, pipeline: str, profile: str) -> Path | None:
    """The newest finished local run folder of ``pipeline`` on ``profile`` (None: there is none)."""
    candidates = sorted(Path(runs_dir).glob(f"{pipeline}-*/run.log"), key=lambda path: path.stat().st_mtime)
    for log in reversed(candidates):
        saved = log.parent / "profile.yaml"
        if saved.is_file() and re.search(rf"^name: {re.escape(profile)}$", saved.read_text(), re.MULTILINE):
            if DONE.search(log.read_text()):
                return log.parent
    return None


def run_seconds(log: str) -> float:
    """Seconds from the first to the last time stamp kfp.local wrote (``HH:MM:SS.mmm - ``; past midnight too)."""
    stamps = [3600 * int(m["h"]) + 60 * int(m["m"]) + float(m["s"]) for m in STAMP.finditer(log)]
    if len(stamps) < 2:
        return float("nan")
    return (stamps[-1] - stamps[0]) % 86400


def bench_orchestration(runs_dir: str | Path = "runs", pipeline: str = "cls_capacity",
                        profile: str = "mini") -> list[Row]:
    """Share of the task processes' time outside the stages' own work, in the newest run found."""
    folder = newest_run(runs_dir, pipeline, profile)
    if folder is None:
        return [Row(f"orchestration share, {pipeline} ({profile})", float("nan"), None, "%",
                    f"no finished {pipeline} run on {profile} under {runs_dir}: run make submit first")]
    text = (folder / "run.log").read_text()
    timings = [(float(m["work"]), float(m["process"])) for m in TIMING.finditer(text)]
    wall = run_seconds(text)
    work = sum(w for w, _ in timings)
    process = sum(p for _, p in timings)
    outside = process - work
    return [Row(f"orchestration share, {pipeline} ({profile})", 100 * outside / process, None, "%",
                f"{len(timings)} tasks: {outside:.0f}s of {process:.0f}s task-process time outside stage work "
                f"(start, imports); run {wall:.0f}s from first to last task line; run {folder.name}; goal < 5%")]


def matmul_rate(dtype: torch.dtype, *, side: int = MATMUL_SIDE, repeats: int = 5) -> float:
    """Dense matmul rate of this process in ``dtype``, FLOP/s (the best of ``repeats``)."""
    a, b = torch.randn(side, side, dtype=dtype), torch.randn(side, side, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - started)
    return 2 * side**3 / best


def _step_flops_and_seconds(name: str, size: int, batch: int, *, bf16: bool, channels_last: bool,
                            repeats: int) -> tuple[float, float]:
    from stainworth.nets.flops import count_flops
    from stainworth.tasks.registry import TASK_NETS, build_task_net

    torch.manual_seed(0)
    net = build_task_net(name, in_channels=1)
    inputs = torch.randn(batch, 1, size, size)
    if channels_last:
        net, inputs = net.to(memory_format=torch.channels_last), inputs.to(memory_format=torch.channels_last)
    segmentation = TASK_NETS[name].task == "segmentation"
    targets = (torch.rand(batch, 1, size, size) > 0.5).float() if segmentation else torch.rand(batch).round()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-4, fused=True)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = net(inputs)
        torch.nn.functional.binary_cross_entropy_with_logits(logits.float().reshape(targets.shape), targets).backward()
        optimizer.step()

    flops = count_flops(step)
    step()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - started)
    return flops, best


def bench_training_efficiency(profile_name: str = "mini", *, repeats: int = 3) -> list[Row]:
    """Achieved training FLOP/s of every network of the profile's ladders against the matmul peak."""
    profile = load_profile(profile_name)
    sizes = {"segmentation": profile.prepare.extract.segmentation.patch_px,
             "classification": profile.prepare.extract.classification.canvas_px}
    rows = []
    peaks: dict[bool, float] = {}
    for task in ("segmentation", "classification"):
        sweep = profile.tasks.sweep(task)
        training = sweep.training
        if training.bf16 not in peaks:
            peaks[training.bf16] = matmul_rate(torch.bfloat16 if training.bf16 else torch.float32)
            precision = "bf16" if training.bf16 else "float32"
            rows.append(Row(f"matmul peak ({precision}, {MATMUL_SIDE}²)", peaks[training.bf16] / 1e9, None,
                            "GFLOP/s", f"{torch.get_num_threads()} threads; reference of the rows below"))
        for name in sweep.architectures:
            flops, seconds = _step_flops_and_seconds(name, sizes[task], training.batch_size, bf16=training.bf16,
                                                     channels_last=training.channels_last, repeats=repeats)
            rate = flops / seconds
            rows.append(Row(f"training {name} ({sizes[task]} px, batch {training.batch_size})", rate / 1e9,
                            peaks[training.bf16] / 1e9, "GFLOP/s",
                            f"{flops / 1e9:.1f} GFLOP per step in {seconds * 1000:.0f} ms; "
                            f"{rate / peaks[training.bf16]:.0%} of the matmul peak"))
    return rows
