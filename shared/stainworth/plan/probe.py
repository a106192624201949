"""Measure one network as a unit trains it: parameters, FLOPs per item, peak memory of a training step.

A probe builds the network (a task network by registry name, or a stainer from the profile's
stainer settings), takes real training steps on random data of the unit's image size and counts
them with :class:`torch.utils.flop_counter.FlopCounterMode` (convolutions and matrix products;
element-wise work is not counted, as is usual for model FLOPs). FLOPs are linear in the batch, so
they are reported per item.

Peak memory: on CUDA, ``torch.cuda.max_memory_allocated`` of one step at the profile's batch. On a
CPU the peak resident memory of the process during one (warm) step is read from ``VmHWM`` after
resetting it (``/proc/self/clear_refs``, Linux); it is measured at batches 1 and 2 and extended
linearly to the profile's batch (activations and their gradients grow with the batch; weights,
gradients and optimiser states do not), minus the process's resident memory before the network
was built (the interpreter and libraries). Each probe runs in a child process of its own
(:func:`probe_in_child`), so that one network's allocations do not hide the next one's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from stainworth.errors import ConfigError
from stainworth.nets.flops import count_flops
from stainworth.runner.environment import TASK_ENVIRONMENT

ProbeKind = Literal["task", "stainer"]
CPU_BATCHES = (1, 2)
"""Batches a CPU probe measures memory at (then extended linearly)."""


@dataclass(frozen=True)
class ProbeSpec:
    """What to build and at which size.

    ``name``: a task network's registry name or a network of your own (``timm:``, ``smp:``, ``py:``),
    or ``efficientunet`` / ``pix2pixhd`` for a stainer
    (then ``stainer_config`` holds the profile's ``StainerTrainConfig`` as a JSON string).
    """

    kind: ProbeKind
    name: str
    size: int
    batch: int
    bf16: bool
    channels_last: bool = False
    stainer_config: str | None = None
    task: str | None = None
    """A task network's task (needed for a ``py:`` network of your own; else from the registry)."""


@dataclass(frozen=True)
class ProbeResult:
    """What a probe measured."""

    parameters: int
    """Trainable parameters (every network of a stainer: a GAN's discriminators too)."""
    train_flops_per_item: float
    """FLOPs of one training step per item (forward, backward; a GAN's discriminator steps too)."""
    forward_flops_per_item: float
    """FLOPs of one forward pass of the network that predicts (validation, testing, staining)."""
    peak_bytes: float
    """Peak memory of one training step at the spec's batch."""
    device: str
    """``cpu`` (extended from batches 1 and 2) or the CUDA device's name (measured at the batch)."""
    seconds_per_step: float
    """Wall time of the last measured step (at the largest batch measured); a rough figure on a CPU."""
    host_bytes: float = 0.0
    """Host memory of the process besides the step: on a CPU its resident memory before the network
    was built (interpreter, libraries); on CUDA its peak resident memory (libraries, the CUDA
    context and the host side of the training)."""


def _resident_bytes(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return float(line.split()[1]) * 1024
    raise ConfigError(f"/proc/self/status has no {field}: peak memory on a CPU needs Linux")


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def _build(spec: ProbeSpec, device: Any) -> tuple[Any, Any, Any]:
    """(training step at a batch, the predicting network, every trained module) of the spec."""
    import torch

    if spec.kind == "stainer":
        from stainworth.contracts.stainer import StainerTrainConfig
        from stainworth.stainers.adapters import build_stainer

        settings = json.loads(spec.stainer_config or "{}")
        config = StainerTrainConfig.model_validate({**settings, "architecture": spec.name, "bf16": spec.bf16})
        stainer = build_stainer(config, device=device)
        modules = [part for part in stainer.parts().values() if isinstance(part, torch.nn.Module)]

        def stainer_step(batch: int) -> None:
            inputs = torch.randn(batch, 1, spec.size, spec.size)
            stainer.train_step(inputs, torch.randn(batch, 1, spec.size, spec.size))

        return stainer_step, stainer.generator, modules
    from stainworth.tasks.registry import TASK_NETS, build_task_net

    net = build_task_net(spec.name, in_channels=1, task=spec.task).to(device)
    if spec.channels_last:
        net = net.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-4)
    segmentation = (spec.task or TASK_NETS[spec.name].task) == "segmentation"

    def task_step(batch: int) -> None:
        inputs = torch.randn(batch, 1, spec.size, spec.size, device=device)
        if spec.channels_last:
            inputs = inputs.to(memory_format=torch.channels_last)
        shape = (batch, 1, spec.size, spec.size) if segmentation else (batch,)
        targets = (torch.rand(shape, device=device) > 0.5).float()
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=spec.bf16):
            logits = net(inputs)
        torch.nn.functional.binary_cross_entropy_with_logits(logits.float().reshape(shape), targets).backward()
        optimizer.step()

    return task_step, net, [net]


def probe_network(spec: ProbeSpec, *, timed_steps: int = 1) -> ProbeResult:
    """Measure ``spec`` in this process (see the module docstring; use :func:`probe_in_child` for memory).

    On CUDA, ``timed_steps`` steps at the spec's batch are timed after one warm-up step and
    ``seconds_per_step`` is their mean.
    """
    import time

    import torch

    import stainworth.stainers.adapters  # noqa: F401
    import stainworth.tasks.registry  # noqa: F401  (libraries loaded before the baseline is read)

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    before = 0.0 if cuda else _resident_bytes("VmRSS")
    step, predictor, modules = _build(spec, device)
    parameters = sum(p.numel() for module in modules for p in module.parameters() if p.requires_grad)
    count_batch = 2
    train_flops = count_flops(lambda: step(count_batch)) / count_batch

    def forward() -> None:
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=spec.bf16):
            predictor.eval()
            predictor(torch.randn(count_batch, 1, spec.size, spec.size, device=device))
            predictor.train()

    forward_flops = count_flops(forward) / count_batch
    if cuda:
        step(spec.batch)  # warm: optimiser states exist
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        for _ in range(timed_steps):
            step(spec.batch)
        torch.cuda.synchronize()
        seconds = (time.perf_counter() - started) / timed_steps
        return ProbeResult(parameters, train_flops, forward_flops, float(torch.cuda.max_memory_allocated()),
                           torch.cuda.get_device_name(), seconds, _resident_bytes("VmHWM"))
    peaks = []
    seconds = 0.0
    for batch in CPU_BATCHES:
        step(batch)
        _reset_peak()
        started = time.perf_counter()
        step(batch)
        seconds = time.perf_counter() - started
        peaks.append(_resident_bytes("VmHWM") - before)
    slope = max(peaks[1] - peaks[0], 0.0) / (CPU_BATCHES[1] - CPU_BATCHES[0])
    peak = peaks[0] + slope * (spec.batch - CPU_BATCHES[0])
    return ProbeResult(parameters, train_flops, forward_flops, peak, "cpu", seconds, before)


def probe_in_child(spec: ProbeSpec, *, threads: int | None = None) -> ProbeResult:
    """:func:`probe_network` in a fresh Python process (its memory is its own), with the tasks' environment."""
    command = [sys.executable, "-m", "stainworth.plan.probe", json.dumps(asdict(spec))]
    if threads is not None:
        command.append(str(threads))
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=os.environ | TASK_ENVIRONMENT)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ConfigError(f"probe of {spec.kind} {spec.name} at {spec.size} px, batch {spec.batch} failed: {reason}")
    return ProbeResult(**json.loads(lines[-1]))


def main(argv: list[str] | None = None) -> int:
    """``python -m stainworth.plan.probe SPEC_JSON [THREADS]``: print the result as one JSON line."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1:
        import torch

        torch.set_num_threads(int(args[1]))
    result = probe_network(ProbeSpec(**json.loads(args[0])))
    print(json.dumps(asdict(result)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
