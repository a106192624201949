"""Kubernetes requests of every pipeline task, from the plan's measured peaks with a stated margin.

Each task's memory request (= limit) is :data:`MARGIN` times its measured need, rounded up to a
whole GiB:

- ``train_task``: the host memory a training process holds besides the step (the probe's
  ``host_bytes``: libraries, and on CUDA the context), the step itself when it was measured on the
  CPU (on a GPU the activations live in GPU memory), and the training and validation splits it
  holds in memory (float32 images, uint8 masks: :mod:`stainworth.tasks.data`), largest over the
  planned units of every pipeline.
- ``train_stainer`` and ``apply_stainer``: the same for the stainers, whose batches are read
  chunk by chunk (no split in memory); a forward pass needs less than the measured training step.
- ``ingest`` (it renders the phantom), ``stitch``, ``register``, ``label``, ``extract``: the peak of
  each stage run in a process of its own on one field of the profile's phantom
  (:func:`stainworth.runner.stage_probe.probe_prepare_stages`).

Tasks that train get the profile's ``gpu_task`` GPUs and CPUs; the others its ``cpu_task`` CPUs. CPU
counts are a throughput choice (data-loading threads), not a peak: they stay the profile's. Tasks
the plan does not measure (``evaluate``, ``report``, ``stain_report``, the retraining's checks, the
joins of the fan-out) keep the profile's ``cpu_task``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from stainworth.contracts.cluster import Resources
from stainworth.contracts.profile import Profile
from stainworth.plan.costs import UnitCost
from stainworth.runner.stage_probe import StageProbe

MARGIN = 1.25
"""Requested memory over measured need: room for allocator fragmentation and data the probe does not see."""
GIB = 1024**3
TASK_BYTES_PER_PX = {"segmentation": 5, "classification": 4}
"""Bytes per pixel of a task training's splits in memory: float32 image, uint8 mask (segmentation)."""
PREPARE_COMPONENTS = ("ingest", "stitch", "register", "label", "extract")
"""Components measured by the stage probe of the same name."""


@dataclass(frozen=True)
class Request:
    """One component's resources and what they come from."""

    component: str
    resources: Resources
    need_bytes: float
    """The measured need the memory request is :data:`MARGIN` times (rounded up to a GiB)."""
    basis: str
    """Where the need comes from, in words a reader can check against ``units.csv``."""


def memory_quantity(need_bytes: float, margin: float = MARGIN) -> str:
    """``margin × need`` rounded up to whole GiB, as a Kubernetes quantity (at least 1Gi)."""
    return f"{max(1, math.ceil(margin * need_bytes / GIB))}Gi"


def _training_need(cost: UnitCost) -> tuple[float, str]:
    unit, probe = cost.unit, cost.probe
    step = probe.peak_bytes if probe.device == "cpu" else 0.0
    data = 0.0
    if unit.kind != "stainer":
        data = (unit.train_items + unit.val_items) * unit.size**2 * TASK_BYTES_PER_PX[unit.dataset]
    basis = (f"{unit.pipeline} {unit.architecture} ({unit.dataset}, {unit.size} px, batch {unit.batch}): host "
             f"{probe.host_bytes / GIB:.2f} + step {step / GIB:.2f} ({probe.device}) + splits {data / GIB:.2f} GiB")
    return probe.host_bytes + step + data, basis


def plan_requests(profile: Profile, costs: Mapping[str, list[UnitCost]],
                  stages: Mapping[str, StageProbe] | None = None, *, margin: float = MARGIN) -> dict[str, Request]:
    """The resources of every measured component, largest need over the planned pipelines.

    Parameters
    ----------
    profile
        Gives the CPU counts and GPUs (``cluster.gpu_task``, ``cluster.cpu_task``).
    costs
        The plan's costed units by pipeline (:attr:`stainworth.plan.report.Plan.costs`).
    stages
        The prepare stages measured on one field (None: prepare tasks keep the profile's).
    margin
        Requested over measured memory.
    """
    gpu, cpu = profile.cluster.gpu_task, profile.cluster.cpu_task
    needs: dict[str, tuple[float, str]] = {}

    def keep(component: str, need: float, basis: str) -> None:
        if component not in needs or need > needs[component][0]:
            needs[component] = (need, basis)

    for group in costs.values():
        for cost in group:
            need, basis = _training_need(cost)
            if cost.unit.kind == "stainer":
                keep("train_stainer", need, basis)
                keep("apply_stainer", need, basis + " (the training step bounds a forward pass)")
            else:
                keep("train_task", need, basis)
    requests = {component: Request(component, Resources(cpu=gpu.cpu, memory=memory_quantity(need, margin),
                                                        gpus=gpu.gpus), need, basis)
                for component, (need, basis) in needs.items()}
    for stage in PREPARE_COMPONENTS:
        if stages and stage in stages:
            probe = stages[stage]
            requests[stage] = Request(
                stage, Resources(cpu=cpu.cpu, memory=memory_quantity(probe.peak_bytes, margin)),
                probe.peak_bytes, f"{stage} stage on one field of the profile's phantom, its own process: "
                f"peak {probe.peak_bytes / GIB:.2f} GiB in {probe.seconds:.0f} s")
    return dict(sorted(requests.items()))


def requests_profile_fragment(requests: Mapping[str, Request]) -> dict[str, object]:
    """``{"cluster": {"requests": {component: resources}}}``: what a profile YAML takes (``requests.yaml``)."""
    return {"cluster": {"requests": {name: request.resources.model_dump(mode="json")
                                     for name, request in requests.items()}}}
