"""What a profile's pipelines train: every kind of training with how many of it run, at which size.

One :class:`PlannedUnit` stands for identical trainings (the modalities and replicates of one
network, the subsets of one training size): same network, image size, batch, items and epoch
bound. The task trainings are those :func:`stainworth.pipelines.sweeps.sweep_units` gives the
pipelines (so the plan and the pipelines agree); the stainers are both architectures on every
dataset a pipeline stains.
"""

from __future__ import annotations

from dataclasses import dataclass

from stainworth.contracts.profile import Profile
from stainworth.contracts.stainer import DatasetKind
from stainworth.contracts.task import TASKS, SweepKind, Task
from stainworth.errors import ConfigError
from stainworth.pipelines import PIPELINES, SweepPipeline
from stainworth.pipelines.sweeps import sweep_units

STAINERS = ("efficientunet", "pix2pixhd")
PLANNED_PIPELINES = ("stain", "seg_capacity", "seg_learnable", "cls_capacity", "cls_learnable", "study")
"""The pipelines that train networks (``prepare``, ``simulate`` and ``retrain``'s checks train none)."""


@dataclass(frozen=True)
class PlannedUnit:
    """Identical trainings of one pipeline."""

    pipeline: str
    kind: str
    """``stainer``, ``capacity`` or ``learnable``."""
    dataset: DatasetKind
    architecture: str
    count: int
    """Trainings of this kind (modalities x replicates, or subsets x modalities x replicates)."""
    train_items: int
    val_items: int
    """Validation items per epoch."""
    predict_items: int
    """Items predicted once after training (the test split; a stainer stains every split)."""
    size: int
    batch: int
    max_epochs: int
    bf16: bool
    channels_last: bool = False
    epoch_items: int | None = None
    """Items a training epoch shows when more than ``train_items`` (``min_epoch_items``; ``None``: one pass)."""


def _sizes(profile: Profile) -> dict[DatasetKind, int]:
    extract = profile.prepare.extract
    return {"segmentation": extract.segmentation.patch_px, "classification": extract.classification.canvas_px}


def _counts(profile: Profile, dataset: DatasetKind) -> dict[str, int]:
    extract = profile.prepare.extract
    counts = (extract.segmentation if dataset == "segmentation" else extract.classification).counts
    return {"train": counts.train, "val": counts.val, "test": counts.test}


def stainer_units(profile: Profile, pipeline: str, datasets: list[DatasetKind]) -> list[PlannedUnit]:
    """Both stainers on each of ``datasets``."""
    units = []
    for dataset in datasets:
        counts = _counts(profile, dataset)
        for architecture in STAINERS:
            training = profile.stain.training_for(dataset)
            train = min(counts["train"], training.max_train_items or counts["train"])
            val = min(counts["val"], training.max_val_items or counts["val"])
            units.append(PlannedUnit(pipeline, "stainer", dataset, architecture, 1, train, val, sum(counts.values()),
                                     _sizes(profile)[dataset], training.batch_size, training.max_epochs,
                                     training.bf16))
    return units


def task_units(profile: Profile, pipeline: str, task: Task, sweeps: tuple[SweepKind, ...]) -> list[PlannedUnit]:
    """The task trainings of ``task``'s ``sweeps``, identical ones counted together."""
    sweep = profile.tasks.sweep(task)
    training = sweep.training
    counts = _counts(profile, task)
    tasks = profile.tasks.model_copy(update={"grouping": None})
    groups: dict[tuple[str, str, int], int] = {}
    for item in sweep_units(tasks, task, sweeps):
        for unit in item["units"]:
            kind = "learnable" if "train_size" in unit else "capacity"
            key = (kind, unit["architecture"], int(unit.get("train_size", counts["train"])))
            groups[key] = groups.get(key, 0) + 1
    val = min(counts["val"], training.max_val_items or counts["val"])
    return [PlannedUnit(pipeline, kind, task, architecture, count, train, val, counts["test"], _sizes(profile)[task],
                        training.batch_size, training.epochs_for(architecture), training.bf16,
                        training.channels_last,
                        training.min_epoch_items if (training.min_epoch_items or 0) > train else None)
            for (kind, architecture, train), count in groups.items()]


def planned_units(profile: Profile, pipeline: str) -> list[PlannedUnit]:
    """Every training ``pipeline`` runs on ``profile``.

    Raises
    ------
    ConfigError
        A pipeline that trains nothing, or an unknown one.
    """
    if pipeline not in PLANNED_PIPELINES:
        raise ConfigError(f"pipeline '{pipeline}': expected one that trains networks, one of "
                          f"{', '.join(PLANNED_PIPELINES)}")
    if pipeline == "stain":
        return stainer_units(profile, pipeline, list(profile.stain.datasets))
    entries = [PIPELINES[name] for name in ("seg_capacity", "seg_learnable", "cls_capacity", "cls_learnable")] \
        if pipeline == "study" else [PIPELINES[pipeline]]
    plan: dict[Task, tuple[SweepKind, ...]] = {}
    for entry in entries:
        assert isinstance(entry, SweepPipeline)
        plan[entry.task] = (*plan.get(entry.task, ()), entry.sweep)
    units = stainer_units(profile, pipeline, [task for task in TASKS if task in plan])
    for task in TASKS:
        if task in plan:
            units += task_units(profile, pipeline, task, plan[task])
    return units
