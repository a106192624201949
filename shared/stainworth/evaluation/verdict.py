"""The verdict: from which capacity (or training size) on label-free images do as well as a virtual stain.

Rule. Along the capacity sweep (rows of :func:`~stainworth.evaluation.tables.capacity_table`,
architectures in increasing capacity) or along the training sizes of one architecture (rows of
:func:`~stainworth.evaluation.tables.learnable_table`), label-free images *reach* a modality at
a step when the label-free point estimate of the metric is at least that modality's point
estimate (ties count as reached). The crossover is the first step from which label-free reaches
the modality at that step and at every larger one; there is none when label-free falls short at
the largest step tried. The point-estimate rule ignores the uncertainty, so every step also
records whether the two intervals overlap: the confidence intervals of the capacity table, or
the mean +- 1 standard deviation over training subsets of the learnable table (the study's error
bars).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from stainworth.contracts.task import MODALITIES
from stainworth.errors import ConfigError, InputDataError
from stainworth.evaluation.tables import TASK_METRICS, sort_rows

REFERENCE = "label_free"
METRIC_NAMES = {"precision": "precision", "recall": "recall", "dice": "Dice", "auc": "empirical AUC",
                "binormal_auc": "binormal AUC"}


@dataclass(frozen=True)
class CrossoverStep:
    """Label-free against the virtual stain at one capacity or training size."""

    architecture: str
    capacity: int
    train_size: int | None
    label_free: float
    stainer: float
    reached: bool
    """``label_free >= stainer`` (point estimates)."""
    intervals_overlap: bool | None
    """Whether the two intervals overlap; None when an interval is undefined (NaN)."""


@dataclass(frozen=True)
class Crossover:
    """Where label-free images reach a virtual stain along one sweep.

    ``architecture``, ``capacity`` and ``train_size`` are those of the crossover step, all None
    when label-free never reaches the stain up to the largest step; ``train_size`` is None on the
    capacity axis. ``steps`` holds every step in increasing order.
    """

    task: str
    metric: str
    stainer_modality: str
    axis: str
    """``"capacity"`` (capacity table) or ``"train_size"`` (learnable table)."""
    architecture: str | None
    capacity: int | None
    train_size: int | None
    steps: tuple[CrossoverStep, ...]
    index: int | None
    """Position of the crossover step in ``steps``; None when never reached."""

    @property
    def reached(self) -> bool:
        """Whether label-free reaches the stain from some step on."""
        return self.index is not None

    @property
    def step(self) -> CrossoverStep | None:
        """The crossover step, or None."""
        return None if self.index is None else self.steps[self.index]


def _check_request(table: pd.DataFrame, task: str, stainer_modality: str, metric: str) -> None:
    if task not in TASK_METRICS:
        raise ConfigError(f"task: found {task!r}; expected one of {', '.join(TASK_METRICS)}")
    if metric not in TASK_METRICS[task]:
        raise ConfigError(f"metric: found {metric!r} for {task}; expected one of {', '.join(TASK_METRICS[task])}")
    if stainer_modality not in MODALITIES or stainer_modality == REFERENCE:
        others = [m for m in MODALITIES if m != REFERENCE]
        raise ConfigError(f"stainer_modality: found {stainer_modality!r}; expected one of {', '.join(others)}")
    tasks = sorted(set(table["task"])) if "task" in table.columns else []
    if tasks != [task]:
        raise InputDataError(f"table: holds rows of task(s) {tasks}; expected only {task} rows from capacity_table "
                             "or learnable_table")


def _columns(table: pd.DataFrame, metric: str) -> tuple[str, pd.Series, pd.Series, pd.Series]:
    """Axis, then the metric's point estimate and interval bounds per row."""
    if "n_subsets" in table.columns:
        needed = [f"{metric}_mean", f"{metric}_std", "train_size"]
        missing = [c for c in needed if c not in table.columns]
        if not missing:
            value, spread = table[f"{metric}_mean"], table[f"{metric}_std"]
            return "train_size", value, value - spread, value + spread
    else:
        needed = [metric, f"{metric}_ci_low", f"{metric}_ci_high"]
        missing = [c for c in needed if c not in table.columns]
        if not missing:
            return "capacity", table[metric], table[f"{metric}_ci_low"], table[f"{metric}_ci_high"]
    raise InputDataError(f"table: lacks column(s) {', '.join(missing)}; expected a capacity_table or "
                         "learnable_table of this task")


def _select_architecture(table: pd.DataFrame, architecture: str | None) -> pd.DataFrame:
    names = list(dict.fromkeys(table["architecture"]))
    if architecture is None:
        if len(names) > 1:
            raise ConfigError(f"architecture: the learnable table holds {', '.join(names)}; expected one to be named")
        return table
    if architecture not in names:
        raise InputDataError(f"table: has no rows of architecture {architecture!r}; found {', '.join(names)}")
    return table[table["architecture"] == architecture]


def _overlap(low_a: float, high_a: float, low_b: float, high_b: float) -> bool | None:
    if np.isnan([low_a, high_a, low_b, high_b]).any():
        return None
    return bool(low_a <= high_b and low_b <= high_a)


def _steps(table: pd.DataFrame, axis: str, stainer: str, metric: str) -> tuple[CrossoverStep, ...]:
    _, value, low, high = _columns(table, metric)
    frame = table.assign(_value=value, _low=low, _high=high)
    key = "architecture" if axis == "capacity" else "train_size"
    steps = []
    for step_key, rows in frame.groupby(key, sort=False):
        by_modality = rows.set_index("modality")
        for modality in (REFERENCE, stainer):
            if modality not in by_modality.index:
                raise InputDataError(f"table: has no {modality} row at {key} {step_key}; expected {REFERENCE} and "
                                     f"{stainer} at every step")
        ref, other = by_modality.loc[REFERENCE], by_modality.loc[stainer]
        size = None if axis == "capacity" else int(ref["train_size"])
        steps.append(CrossoverStep(
            architecture=str(ref["architecture"]), capacity=int(ref["capacity"]), train_size=size,
            label_free=float(ref["_value"]), stainer=float(other["_value"]),
            reached=bool(ref["_value"] >= other["_value"]),
            intervals_overlap=_overlap(ref["_low"], ref["_high"], other["_low"], other["_high"])))
    return tuple(steps)


def crossover(table: pd.DataFrame, task: str, stainer_modality: str, metric: str, *,
              architecture: str | None = None) -> Crossover:
    """Find from which capacity (or training size) on label-free images reach a virtual stain.

    Parameters
    ----------
    table : pandas.DataFrame
        A :func:`~stainworth.evaluation.tables.capacity_table` (capacity axis) or
        :func:`~stainworth.evaluation.tables.learnable_table` (training-size axis).
    task : str
        ``"segmentation"`` or ``"classification"``; the table must hold only this task.
    stainer_modality : str
        The modality label-free images are compared with, e.g. ``"virtual_effunet"``.
    metric : str
        ``precision``, ``recall`` or ``dice`` (segmentation); ``auc`` or ``binormal_auc``
        (classification).
    architecture : str, optional
        The architecture of a learnable table holding several; ignored for a capacity table.

    Returns
    -------
    Crossover
        The crossover step (see the module docstring for the rule) and every step.

    Raises
    ------
    ConfigError
        Unknown task, metric or stainer modality, or a learnable table of several architectures
        without ``architecture``.
    InputDataError
        The table holds another task, lacks the metric's columns, lacks the architecture, or
        lacks a label-free or stainer row at some step.
    """
    _check_request(table, task, stainer_modality, metric)
    axis = _columns(table, metric)[0]
    if axis == "train_size":
        table = _select_architecture(table, architecture)
    table = sort_rows(table, ["train_size"] if axis == "train_size" else [])
    steps = _steps(table, axis, stainer_modality, metric)
    start = len(steps)
    while start > 0 and steps[start - 1].reached:
        start -= 1
    at = steps[start] if start < len(steps) else None
    return Crossover(task=task, metric=metric, stainer_modality=stainer_modality, axis=axis,
                     architecture=at.architecture if at else None, capacity=at.capacity if at else None,
                     train_size=at.train_size if at else None, steps=steps, index=start if at else None)


def _where(step: CrossoverStep, axis: str) -> str:
    if axis == "capacity":
        return f"{step.architecture} ({step.capacity:,} parameters)"
    return f"{step.train_size:,} training images"


def _span(first: CrossoverStep, last: CrossoverStep, axis: str) -> str:
    if first is last:
        return _where(first, axis)
    if axis == "capacity":
        return f"from {_where(first, axis)} to {_where(last, axis)}"
    return f"from {first.train_size:,} to {last.train_size:,} training images"


def _listing(steps: list[CrossoverStep], axis: str) -> str:
    places = [_where(step, axis) for step in steps]
    return places[0] if len(places) == 1 else ", ".join(places[:-1]) + " and " + places[-1]


def _main_clause(result: Crossover, lead: str, target: str) -> str:
    steps, axis = list(result.steps), result.axis
    noun = "capacity" if axis == "capacity" else "training size"
    first, last = steps[0], steps[-1]
    if result.index == 0:
        return f"{lead} reach {target} at every {noun} tried, {_span(first, last, axis)}."
    if result.step is not None and result.index is not None:
        below = steps[:result.index]
        exceptions = [step for step in below if step.reached]
        extra = f" except at {_listing(exceptions, axis)}" if exceptions else ""
        return (f"{lead} reach {target} from {_where(result.step, axis)} on; below that, "
                f"{result.stainer_modality} images score higher{extra}.")
    reached = [step for step in steps if step.reached]
    if reached:
        short = [step for step in steps if not step.reached]
        return (f"{lead} fall short of {target} at {_listing(short, axis)}, the largest {noun} tried "
                f"included; they reach it at {_listing(reached, axis)}.")
    plural = "capacities" if axis == "capacity" else "training sizes"
    return f"{lead} never reach {target} within the {plural} tried, up to {_where(last, axis)}."


def crossover_sentence(result: Crossover) -> str:
    """Describe a :class:`Crossover` in plain English.

    Parameters
    ----------
    result : Crossover
        The output of :func:`crossover`.

    Returns
    -------
    str
        One or two sentences naming the crossover architecture (with its parameter count, in
        thousands-separated digits) or training size, or saying that label-free images never
        reach the stain, then the two values and whether their intervals overlap at the
        crossover step (or at the largest step when there is none).

    Examples
    --------
    A typical result reads: "Label-free images reach virtual_effunet's Dice from unet3 (60,305
    parameters) on; below that, virtual_effunet images score higher. At unet3 (60,305
    parameters), label-free 0.812 vs virtual_effunet 0.806; their confidence intervals overlap."
    """
    target = f"{result.stainer_modality}'s {METRIC_NAMES.get(result.metric, result.metric)}"
    if result.axis == "capacity":
        lead = "Label-free images"
    else:
        fixed = result.steps[0]
        lead = f"With {fixed.architecture} ({fixed.capacity:,} parameters), label-free images"
    sentence = _main_clause(result, lead, target)
    step = result.step or result.steps[-1]
    values = (f" At {_where(step, result.axis)}, label-free {step.label_free:.3f} vs {result.stainer_modality} "
              f"{step.stainer:.3f}")
    if step.intervals_overlap is None:
        return f"{sentence}{values}."
    kind = "confidence intervals" if result.axis == "capacity" else "mean ± 1 SD ranges over training subsets"
    return f"{sentence}{values}; their {kind} {'overlap' if step.intervals_overlap else 'do not overlap'}."
