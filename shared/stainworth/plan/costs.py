"""From measured networks to compute, memory, store bytes, GPU-hours and wall time.

GPU figures use each GPU's dense bf16 tensor-core peak from its vendor's datasheet (no
sparsity) and a stated share of it that training achieves (model FLOPs utilisation): an
assumption until ``make gpu-check`` measures it on the cluster's GPUs. Wall time deals the
trainings to the GPUs longest first (each training is one GPU task), stainers before task
networks (the task networks train on the stainers' images); it leaves out scheduling, image
pulls and data loading.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from stainworth.plan.probe import ProbeResult
from stainworth.plan.units import PlannedUnit


@dataclass(frozen=True)
class GpuType:
    """A GPU's dense bf16 peak and memory."""

    name: str
    bf16_tflops: float
    memory_gib: float
    source: str


GPUS = (
    GpuType("A100", 312.0, 80.0, "NVIDIA A100 Tensor Core GPU datasheet (SXM4 80GB): BF16 312 TFLOPS dense"),
    GpuType("H100", 989.0, 80.0, "NVIDIA H100 Tensor Core GPU datasheet (SXM5): BF16 1,979 TFLOPS with sparsity, "
            "989 dense"),
    GpuType("H200", 989.0, 141.0, "NVIDIA H200 Tensor Core GPU datasheet (SXM): BF16 1,979 TFLOPS with sparsity, "
            "989 dense; 141 GB"),
)
DEFAULT_SHARE = 0.3
"""Share of the dense bf16 peak assumed for training these convolutional networks (see the module docstring)."""
CHECKPOINT_COPIES = 4
"""Float32 copies of the weights a checkpoint holds: weights, Adam's two moments, best weights."""


@dataclass(frozen=True)
class UnitCost:
    """The cost of one :class:`PlannedUnit` (all its trainings together, unless said per training)."""

    unit: PlannedUnit
    probe: ProbeResult
    steps_per_training: int
    """Training steps of one training at the epoch bound."""
    flops: float
    """Training, validation and prediction FLOPs of all trainings of the unit at the epoch bound."""
    store_bytes: float
    """Checkpoints and the written output (uncompressed float32), all trainings."""

    @property
    def flops_per_training(self) -> float:
        """FLOPs of one of the unit's trainings."""
        return self.flops / self.unit.count

    def gpu_hours(self, gpu: GpuType, share: float) -> float:
        """GPU-hours of all trainings of the unit on ``gpu`` at ``share`` of its peak."""
        return self.flops / (share * gpu.bf16_tflops * 1e12) / 3600


def unit_cost(unit: PlannedUnit, probe: ProbeResult) -> UnitCost:
    """Compute and store bytes of ``unit`` from its network's ``probe``."""
    per_epoch = max(unit.train_items, unit.epoch_items or 0)
    steps = math.ceil(per_epoch / unit.batch) * unit.max_epochs
    per_training = (probe.train_flops_per_item * per_epoch * unit.max_epochs
                    + probe.forward_flops_per_item * (unit.val_items * unit.max_epochs + unit.predict_items))
    output_bytes = unit.predict_items * unit.size**2 * 4 if unit.kind == "stainer" else 0
    store = unit.count * (probe.parameters * 4 * CHECKPOINT_COPIES + output_bytes)
    return UnitCost(unit, probe, steps, unit.count * per_training, float(store))


def dealt_hours(hours: Iterable[float], gpus: int) -> float:
    """Wall hours of independent jobs dealt to ``gpus`` workers longest first (LPT scheduling).

    Examples
    --------
    >>> dealt_hours([3.0, 2.0, 2.0, 1.0], 2)
    4.0
    """
    if gpus < 1:
        raise ValueError(f"gpus: found {gpus}; expected >= 1")
    loads = [0.0] * gpus
    for job in sorted(hours, reverse=True):
        heapq.heapreplace(loads, loads[0] + job)
    return max(loads)


def wall_hours(costs: Sequence[UnitCost], gpu: GpuType, share: float, gpus: int) -> float:
    """Stainers dealt to ``gpus``, then the task trainings (each training one GPU task)."""
    def trainings(kinds: set[str]) -> list[float]:
        return [cost.gpu_hours(gpu, share) / cost.unit.count for cost in costs if cost.unit.kind in kinds
                for _ in range(cost.unit.count)]

    return dealt_hours(trainings({"stainer"}), gpus) + dealt_hours(trainings({"capacity", "learnable"}), gpus)
