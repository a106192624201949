"""``make plan``: every training of a profile's pipelines, measured and costed, as a CSV and a Markdown page.

``units.csv`` has one row per kind of training of each pipeline (:class:`~stainworth.plan.units.PlannedUnit`)
with the measured network (parameters, FLOPs per item, peak memory of a training step) and what
follows from it (steps, FLOPs, store bytes, GPU-hours on each GPU type); ``pipelines.csv`` the
totals per pipeline and the wall time on the given number of GPUs; ``plan.md`` both tables and the
assumptions. Every figure in a row follows from the figures beside it, so a reader can check it.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from stainworth.contracts.base import canonical_json
from stainworth.contracts.profile import Profile
from stainworth.contracts.task import VERDICT_METRIC
from stainworth.errors import ConfigError
from stainworth.plan.costs import DEFAULT_SHARE, GPUS, UnitCost, unit_cost, wall_hours
from stainworth.plan.probe import ProbeResult, ProbeSpec, probe_in_child
from stainworth.plan.requests import MARGIN, Request, plan_requests, requests_profile_fragment
from stainworth.plan.units import PLANNED_PIPELINES, PlannedUnit, planned_units
from stainworth.runner.stage_probe import StageProbe, probe_prepare_stages

GIB = 1024**3
DATASET_BYTES_PER_PX = 9
"""A prepared dataset item: label-free and fluorescence float32, mask uint8."""
UNITS_GLOB = "*/evaluate*/evaluation/units.csv"
Prober = Callable[[ProbeSpec], ProbeResult]
StageProber = Callable[[Profile], dict[str, StageProbe]]


@dataclass
class Plan:
    """The costed units of every planned pipeline."""

    profile: str
    share: float
    gpus: int
    costs: dict[str, list[UnitCost]] = field(default_factory=dict)
    observed_epochs: dict[tuple[str, str], tuple[float, int, int]] = field(default_factory=dict)
    """(dataset, architecture) → (mean, max, trainings) of the epochs run at ``mini`` (from ``runs/``)."""
    stages: dict[str, StageProbe] = field(default_factory=dict)
    """The prepare stages measured on one field of the profile's phantom."""
    requests: dict[str, Request] = field(default_factory=dict)
    """Every measured component's resources (:mod:`stainworth.plan.requests`)."""
    seconds: float = 0.0


def probe_spec(profile: Profile, unit: PlannedUnit) -> ProbeSpec:
    """The network measurement a unit needs (stainers with their dataset's stainer settings)."""
    if unit.kind == "stainer":
        config = canonical_json(profile.stain.training_for(unit.dataset).model_dump(mode="json"))
        return ProbeSpec("stainer", unit.architecture, unit.size, unit.batch, unit.bf16, stainer_config=config)
    return ProbeSpec("task", unit.architecture, unit.size, unit.batch, unit.bf16, unit.channels_last,
                     task=unit.dataset)


def observed_epochs(runs_dir: str | Path) -> dict[tuple[str, str], tuple[float, int, int]]:
    """Epochs run per (task, architecture) in the newest finished ``mini`` run of each sweep pipeline."""
    newest: dict[str, Path] = {}
    for profile_file in sorted(Path(runs_dir).glob("*/profile.yaml")):
        run = profile_file.parent
        name = (yaml.safe_load(profile_file.read_text()) or {}).get("name")
        pipeline = run.name.rsplit("-", 3)[0]
        if name == "mini" and any(run.glob(UNITS_GLOB)):
            newest[pipeline] = run  # runs sort by their time stamp
    frames = [pd.read_csv(table) for run in newest.values() for table in run.glob(UNITS_GLOB)]
    found: dict[tuple[str, str], tuple[float, int, int]] = {}
    for frame in frames:
        tasks = [task for task, metric in VERDICT_METRIC.items() if f"test_{metric}" in frame.columns]
        if len(tasks) != 1:
            continue  # not a units table of one task
        task = tasks[0]
        for architecture, rows in frame.groupby("architecture"):
            found[(task, str(architecture))] = (float(rows["epochs_run"].mean()), int(rows["epochs_run"].max()),
                                                len(rows))
    return found


def probe_profile_field(profile: Profile) -> dict[str, StageProbe]:
    """The prepare stages on one field of the profile's phantom, each in a process of its own."""
    with tempfile.TemporaryDirectory(prefix="stainworth-plan-") as scratch:
        return probe_prepare_stages(Path(scratch) / "acquisition", Path(scratch) / "out", profile.prepare,
                                    phantom=profile.simulate.phantom, seed=profile.simulate.seed)


def make_plan(profile: Profile, pipelines: Sequence[str] = PLANNED_PIPELINES, *, share: float = DEFAULT_SHARE,
              gpus: int = 8, runs_dir: str | Path = "runs", prober: Prober = probe_in_child,
              stage_prober: StageProber = probe_profile_field, progress: Callable[[str], None] = print) -> Plan:
    """Measure every distinct network of ``pipelines`` once, and the prepare stages; cost every unit and task.

    Raises
    ------
    ConfigError
        A share outside (0, 1], fewer than one GPU, or a pipeline that trains nothing.
    """
    if not 0 < share <= 1:
        raise ConfigError(f"share: found {share}; expected a fraction of the GPU's peak in (0, 1]")
    if gpus < 1:
        raise ConfigError(f"gpus: found {gpus}; expected an integer >= 1")
    started = time.perf_counter()
    units = {pipeline: planned_units(profile, pipeline) for pipeline in pipelines}
    probes: dict[ProbeSpec, ProbeResult] = {}
    specs = list(dict.fromkeys(probe_spec(profile, unit) for group in units.values() for unit in group))
    for k, spec in enumerate(specs, start=1):
        progress(f"plan {k}/{len(specs)}: {spec.kind} {spec.name} at {spec.size} px, batch {spec.batch}")
        probes[spec] = prober(spec)
    plan = Plan(profile=profile.name, share=share, gpus=gpus, observed_epochs=observed_epochs(runs_dir))
    plan.costs = {pipeline: [unit_cost(unit, probes[probe_spec(profile, unit)]) for unit in group]
                  for pipeline, group in units.items()}
    shape = profile.simulate.phantom.acquisition.mosaic_shape
    progress(f"plan: the prepare stages on one {shape[0]}x{shape[1]} px field of the profile's phantom")
    plan.stages = stage_prober(profile)
    plan.requests = plan_requests(profile, plan.costs, plan.stages)
    plan.seconds = time.perf_counter() - started
    return plan


def unit_table(plan: Plan) -> pd.DataFrame:
    """One row per unit of every pipeline (``units.csv``)."""
    rows = []
    for pipeline, costs in plan.costs.items():
        for cost in costs:
            unit, probe = cost.unit, cost.probe
            seen = plan.observed_epochs.get((unit.dataset, unit.architecture))
            rows.append({
                "pipeline": pipeline, "kind": unit.kind, "dataset": unit.dataset, "architecture": unit.architecture,
                "trainings": unit.count, "train_items": unit.train_items, "val_items": unit.val_items,
                "predict_items": unit.predict_items, "size_px": unit.size, "batch": unit.batch,
                "max_epochs": unit.max_epochs, "bf16": unit.bf16, "parameters": probe.parameters,
                "train_gflop_per_item": probe.train_flops_per_item / 1e9,
                "forward_gflop_per_item": probe.forward_flops_per_item / 1e9,
                "steps_per_training": cost.steps_per_training,
                "pflop_per_training": cost.flops_per_training / 1e15, "pflop": cost.flops / 1e15,
                "peak_memory_gib": probe.peak_bytes / GIB, "memory_measured_on": probe.device,
                "store_gib": cost.store_bytes / GIB,
                **{f"gpu_hours_{gpu.name}": cost.gpu_hours(gpu, plan.share) for gpu in GPUS},
                "mini_epochs_mean": None if seen is None else seen[0],
                "mini_epochs_max": None if seen is None else seen[1],
            })
    return pd.DataFrame(rows)


def pipeline_table(plan: Plan) -> pd.DataFrame:
    """Totals per pipeline (``pipelines.csv``)."""
    rows = []
    for pipeline, costs in plan.costs.items():
        datasets = {(cost.unit.dataset, cost.unit.size, cost.unit.predict_items) for cost in costs
                    if cost.unit.kind == "stainer"}
        row = {"pipeline": pipeline, "trainings": sum(cost.unit.count for cost in costs),
               "pflop": sum(cost.flops for cost in costs) / 1e15,
               "dataset_gib": sum(items * size**2 * DATASET_BYTES_PER_PX for _, size, items in datasets) / GIB,
               "store_gib": sum(cost.store_bytes for cost in costs) / GIB,
               "largest_peak_memory_gib": max(cost.probe.peak_bytes for cost in costs) / GIB}
        for gpu in GPUS:
            row[f"gpu_hours_{gpu.name}"] = sum(cost.gpu_hours(gpu, plan.share) for cost in costs)
            row[f"wall_hours_{gpu.name}_x{plan.gpus}"] = wall_hours(costs, gpu, plan.share, plan.gpus)
        rows.append(row)
    return pd.DataFrame(rows)


def _markdown(frame: pd.DataFrame, digits: int = 3) -> str:
    def cell(value: object) -> str:
        if value is None or (isinstance(value, float) and value != value):
            return "–"
        if isinstance(value, float):
            return f"{value:.{digits}g}"
        return str(value)

    lines = ["| " + " | ".join(frame.columns) + " |", "| " + " | ".join("---" for _ in frame.columns) + " |"]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def request_table(plan: Plan) -> pd.DataFrame:
    """One row per measured component (``requests.csv``): its resources and the need they come from."""
    return pd.DataFrame([{"component": request.component, "cpu": request.resources.cpu,
                          "memory": request.resources.memory, "gpus": request.resources.gpus,
                          "measured_need_gib": request.need_bytes / GIB, "basis": request.basis}
                         for request in plan.requests.values()],
                        columns=["component", "cpu", "memory", "gpus", "measured_need_gib", "basis"])


def write_plan(plan: Plan, out: str | Path) -> tuple[Path, ...]:
    """Write ``units.csv``, ``pipelines.csv``, ``requests.csv``, ``requests.yaml`` and ``plan.md`` into ``out``."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    units, pipelines, requests = unit_table(plan), pipeline_table(plan), request_table(plan)
    units_csv, pipelines_csv, page = folder / "units.csv", folder / "pipelines.csv", folder / "plan.md"
    requests_csv, requests_yaml = folder / "requests.csv", folder / "requests.yaml"
    units.to_csv(units_csv, index=False, lineterminator="\n")
    pipelines.to_csv(pipelines_csv, index=False, lineterminator="\n")
    requests.to_csv(requests_csv, index=False, lineterminator="\n")
    requests_yaml.write_text(f"# Measured by `make plan PROFILE={plan.profile}`: memory = {MARGIN:g} x the measured "
                             "need, whole GiB (requests.csv).\n"
                             + yaml.safe_dump(requests_profile_fragment(plan.requests), sort_keys=False))
    devices = ", ".join(sorted(set(units["memory_measured_on"])))
    gpus = "; ".join(f"{gpu.name}: {gpu.bf16_tflops:g} TFLOP/s, {gpu.memory_gib:g} GiB ({gpu.source})" for gpu in GPUS)
    compact = units[["pipeline", "kind", "dataset", "architecture", "trainings", "train_items", "size_px", "batch",
                     "max_epochs", "parameters", "train_gflop_per_item", "pflop", "peak_memory_gib",
                     "gpu_hours_H100", "mini_epochs_mean"]]
    page.write_text(
        f"# Plan: profile `{plan.profile}`\n\n"
        f"Measured in {plan.seconds:.0f} s; peak memory measured on {devices}. Epochs at their bound "
        f"(`max_epochs`): early stopping ends most trainings sooner (`mini_epochs_mean`: epochs run in the newest "
        f"`mini` runs under `runs/`, where that network trained). GPU-hours at {plan.share:.0%} of each GPU's dense "
        f"bf16 peak ({gpus}). Wall time: every training one GPU task on {plan.gpus} GPUs, longest first, stainers "
        f"before task networks. Store: `dataset_gib` the prepared datasets (label-free and fluorescence float32, "
        f"mask uint8), `store_gib` the checkpoints (weights, Adam moments, best weights, float32) and stained images, "
        f"uncompressed. Every column of `units.csv` and `pipelines.csv`.\n\n"
        f"## Pipelines\n\n{_markdown(pipelines)}\n\n## Units\n\n{_markdown(compact)}\n\n"
        f"## Task requests\n\nMemory request (= limit) {MARGIN:g} x the measured need, rounded up to whole GiB; "
        f"CPUs and GPUs the profile's. Put `requests.yaml` in the profile (its `cluster.requests`) and compile: "
        f"every task of a measured component asks for these; the others keep `cluster.cpu_task`.\n\n"
        f"{_markdown(requests)}\n")
    return units_csv, pipelines_csv, requests_csv, requests_yaml, page
