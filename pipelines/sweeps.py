"""Shared wiring of the task pipelines: stainers per dataset, a fan-out of training units, one evaluation per task.

``seg_capacity``, ``seg_learnable``, ``cls_capacity``, ``cls_learnable`` (entries of
:data:`stainworth.pipelines.SWEEP_PIPELINES`) and ``study`` differ only in which sweeps of which
tasks they run; each is built with :func:`build_sweeps`.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from kfp import dsl

from stainworth.components.evaluate import evaluate
from stainworth.components.report import report
from stainworth.components.train_task import train_task
from stainworth.contracts.profile import Profile
from stainworth.contracts.task import LADDERS, SweepKind, Task, TasksConfig, network_source
from stainworth.pipelines import SWEEP_PIPELINES
from stainworth.pipelines.parameters import LOCAL_SLOTS, profile_pipeline
from stainworth.pipelines.prepare import Prepared, prepare_tasks
from stainworth.pipelines.stain import stain_tasks
from stainworth.runner.platform import configure_task

REPORT_OUTPUT = "study_report"
"""The pipeline output holding the report folder (``report.html``, ``summary.md``, figures, tables)."""


def sweep_units(tasks: TasksConfig, task: Task, sweeps: Sequence[SweepKind]) -> list[dict[str, Any]]:
    """The trainings of ``task``'s ``sweeps`` as loop items, one ``train_task`` task each.

    Capacity sweep: every architecture × every modality × every replicate on the whole training
    split (no ``train_size``: a loop item cannot hold a null, KFP's protobuf values refuse it).
    Learnable sweep: the learnable architecture × sizes × subsets × modalities × its replicates
    (``learnable.replicates``, else the task's). Each training carries its ``position`` (``run k/n``).
    With ``tasks.grouping`` ``slots`` (the local default) all trainings are dealt to
    :data:`LOCAL_SLOTS` items (:func:`_deal_to_slots`), one process per runner slot; with
    ``architecture`` the trainings of one architecture and training size are split, modality by
    modality, into :data:`LOCAL_SLOTS` items, largest first; otherwise (``unit``, or None as on a
    cluster) one training each. Within an item the trainings of one dataset follow each other, so
    that its batches are opened once.
    The list is fixed when the pipeline is built: overriding the ``tasks_config`` parameter at
    submission changes the training settings, not which units run.
    """
    sweep = tasks.sweep(task)
    ranks = capacity_ranks(task, [*sweep.architectures, sweep.learnable.architecture])
    plan: list[tuple[str, int | None, int, int]] = []
    if "capacity" in sweeps:
        plan += [(architecture, None, 0, sweep.replicates) for architecture in sweep.architectures]
    if "learnable" in sweeps:
        plan += [(sweep.learnable.architecture, size, subset, tasks.learnable_replicates(task))
                 for size in sweep.learnable.sizes for subset in range(sweep.learnable.subsets)]
    units = [{"architecture": architecture, "modality": modality, **({"train_size": size} if size else {}),
              "subset": subset, "replicate": replicate}
             for architecture, size, subset, replicates in plan for modality in sweep.modalities
             for replicate in range(replicates)]
    units = [unit | {"position": f"run {k}/{len(units)}"} for k, unit in enumerate(units, start=1)]
    if tasks.grouping not in ("architecture", "slots"):
        return [{"units": [unit]} for unit in units]
    if tasks.grouping == "slots":
        return [{"units": dealt} for dealt in _deal_to_slots(units, ranks, sweep.modalities) if dealt]
    groups: dict[tuple[str, int | None], list[dict[str, Any]]] = {}
    for unit in units:
        groups.setdefault((unit["architecture"], unit.get("train_size")), []).append(unit)
    order = sorted(groups, key=lambda key: _largest_first(ranks, *key))
    items = []
    for key in order:
        modalities = list(dict.fromkeys(unit["modality"] for unit in groups[key]))
        for part in range(min(LOCAL_SLOTS, len(modalities))):
            chosen = set(modalities[part::LOCAL_SLOTS])
            items.append({"units": [unit for unit in groups[key] if unit["modality"] in chosen]})
    return items


def capacity_ranks(task: Task, architectures: Sequence[str]) -> dict[str, int]:
    """Each architecture's place in increasing capacity.

    Its ladder rank; with networks of your own among them, its counted trainable parameters
    (:func:`stainworth.tasks.capacity`, built on torch's ``meta`` device: only then is torch imported).
    """
    names = list(dict.fromkeys(architectures))
    if all(network_source(name) == "builtin" for name in names):
        return {name: LADDERS[task].index(name) for name in names}
    from stainworth.tasks import capacity

    return {name: capacity(name, task=task) for name in names}


def _largest_first(ranks: Mapping[str, int], architecture: str, train_size: int | None) -> tuple[int, float]:
    """Sort key: larger architectures first, then larger training sets (``train_size`` None: the whole split)."""
    return -ranks[architecture], -(train_size or float("inf"))


def _deal_to_slots(units: list[dict[str, Any]], ranks: Mapping[str, int], modalities: Sequence[str]
                   ) -> list[list[dict[str, Any]]]:
    """``units`` dealt to :data:`LOCAL_SLOTS` lists, largest architecture and training size first.

    Each modality's trainings alternate between the slots, each modality starting one slot after
    the previous one, so that every slot gets about half of every architecture's and every
    modality's work (their epochs differ: the real fluorescence trains longest) and the trainings
    of one dataset stay next to each other.
    """
    ordered = sorted(units, key=lambda unit: _largest_first(ranks, unit["architecture"], unit.get("train_size")))
    slots: list[list[dict[str, Any]]] = [[] for _ in range(LOCAL_SLOTS)]
    dealt: dict[str, int] = {}
    for unit in ordered:
        modality = unit["modality"]
        slots[(dealt.get(modality, 0) + modalities.index(modality)) % LOCAL_SLOTS].append(unit)
        dealt[modality] = dealt.get(modality, 0) + 1
    return slots


def sweep_tasks(profile: Profile, task: Task, units: list[dict[str, Any]], configs: Mapping[str, Any],
                store_uri: Any, prepared: Prepared, trained: dict[str, Any] | None = None) -> tuple[Any, Any]:
    """Add one task's part to the current pipeline: the stainers on its dataset, the units, the evaluation.

    ``configs``: the pipeline parameters ``tasks_config``, ``stain_config`` and ``prepare_config``.
    ``trained``: the task's stainers when the pipeline trained them already (else trained here).
    Returns the ``stain_report`` and the ``evaluate`` outputs.
    """
    tasks_config, datasets = configs["tasks_config"], prepared.datasets
    virtual, report = stain_tasks(profile, task, configs["stain_config"], configs["prepare_config"], store_uri,
                                  prepared, trained)
    with dsl.ParallelFor(units, parallelism=profile.cluster.parallelism, name=f"{task} units") as unit:
        unit_task = train_task(config=tasks_config, task=task, item=unit, store_uri=store_uri, datasets=datasets,
                               **virtual).set_display_name(f"train unit ({task})")
        configure_task(unit_task, profile.cluster, gpu=True)
    evaluated = evaluate(config=tasks_config, task=task, units=dsl.Collected(unit_task.outputs["unit"]),
                         datasets=datasets, **virtual).set_display_name(f"evaluate ({task})")
    configure_task(evaluated, profile.cluster, gpu=False)
    return report, evaluated.outputs["evaluation"]


def check_profile_networks(profile: Profile, tasks: Iterable[Task]) -> None:
    """Build and probe the networks of your own that ``profile`` names for ``tasks``, before a run starts.

    Nothing (and no torch import) when there are none. Raises a one-line
    :class:`~stainworth.errors.ConfigError` (:func:`stainworth.tasks.check_task_networks`).
    """
    tasks = list(tasks)
    sweeps = [profile.tasks.sweep(task) for task in tasks]
    if all(network_source(name) == "builtin" for sweep in sweeps
           for name in [*sweep.architectures, sweep.learnable.architecture]):
        return
    from stainworth.tasks import check_task_networks

    check_task_networks(profile, tasks)


def pipeline_tasks(name: str, profile: Profile) -> list[Task]:
    """The tasks whose networks pipeline ``name`` trains with ``profile`` (none: simulate, prepare, stain)."""
    if name == "study":
        return list(sweep_plan(list(SWEEP_PIPELINES)))
    if name == "retrain":
        return list(sweep_plan(profile.retrain.evaluate))
    return [SWEEP_PIPELINES[name].task] if name in SWEEP_PIPELINES else []


def sweep_plan(pipelines: Sequence[str]) -> dict[Task, tuple[SweepKind, ...]]:
    """The tasks and sweeps of the named single-sweep pipelines together (``study`` is all four)."""
    plan: dict[Task, tuple[SweepKind, ...]] = {}
    for name in pipelines:
        task, sweep, _ = SWEEP_PIPELINES[name]
        plan[task] = (*plan.get(task, ()), sweep)
    return plan


def sweeps_graph(profile: Profile, plan: Mapping[Task, Sequence[SweepKind]], configs: Mapping[str, Any],
                 store_uri: Any, prepared: Prepared, trained: Mapping[str, dict[str, Any]] | None = None
                 ) -> dict[str, Any]:
    """Add ``plan``'s sweeps and the study report to the current pipeline, on the ``prepared`` datasets.

    ``configs``: the pipeline parameters ``tasks_config``, ``stain_config`` and ``prepare_config``.
    ``trained``: the stainers per dataset kind when the pipeline trained them already (else each
    task's part trains its own). Returns the outputs ``<task>_report``, ``<task>_evaluation`` and
    ``study_report`` by name.
    """
    results = {}
    for task, sweeps in plan.items():
        results[f"{task}_report"], results[f"{task}_evaluation"] = sweep_tasks(
            profile, task, sweep_units(profile.tasks, task, sweeps), configs, store_uri, prepared,
            (trained or {}).get(task))
    report_config = {"profile": profile.name,
                     "settings": profile.model_dump(mode="json", exclude={"cluster"}, exclude_none=True)}
    study_report = report(config=report_config, **{
        f"{task}_{name}": results[f"{task}_{key}"]
        for task in plan for name, key in (("evaluation", "evaluation"), ("stain_report", "report"))
    }).set_display_name("report")
    configure_task(study_report, profile.cluster, gpu=False)
    return results | {REPORT_OUTPUT: study_report.outputs["folder"]}


def build_sweeps(profile: Profile, name: str, plan: Mapping[Task, Sequence[SweepKind]], description: str):
    """The pipeline running ``plan``'s sweeps per task, the profile's values as parameter defaults.

    Named ``stainworth-<name>`` with dashes for underscores (as KFP names it anyway).

    One ``prepare``; per task, one pair of stainers on its dataset, one fan-out of the units of all
    its sweeps (GPU pool), one ``evaluate`` over them; then one ``report`` over everything.
    Outputs: ``<task>_report`` (image quality) and ``<task>_evaluation`` per task, and
    ``study_report`` (the report folder; the report task's HTML and Markdown outputs are what the
    Kubeflow dashboard renders).
    """
    fields = [(f"{task}_{output}", dsl.Dataset if output == "report" else dsl.Artifact)
              for task in plan for output in ("report", "evaluation")]
    outputs = NamedTuple("Outputs", [*fields, (REPORT_OUTPUT, dsl.Artifact)])  # type: ignore[misc]

    check_profile_networks(profile, plan)

    @profile_pipeline(profile, name=f"stainworth-{name.replace('_', '-')}", description=description)
    def pipeline(prepare_config: dict, simulate_config: dict, stain_config: dict, tasks_config: dict,
                 store_uri: str) -> outputs:
        prepared = prepare_tasks(profile, prepare_config, simulate_config, store_uri)
        configs = {"tasks_config": tasks_config, "stain_config": stain_config, "prepare_config": prepare_config}
        results = sweeps_graph(profile, plan, configs, store_uri, prepared)
        return outputs(**results)

    return pipeline
