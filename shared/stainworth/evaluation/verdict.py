"""The verdict: where a virtual stain is significantly better or worse than label-free images, and the crossover.

Decisions are made from the combined paired comparisons
(:func:`~stainworth.evaluation.comparisons.paired_comparisons`: stain minus label-free on the
same test items, all trainings combined, intervals covering retraining and test-set sampling) and
their Holm-adjusted p-values, never from point estimates or from whether two intervals overlap.

Rule. Along one sweep axis (the architectures of the capacity sweep in increasing capacity, or
the training sizes of one architecture of the learnable sweep), each step is

- ``better``: the stain scores significantly higher (Holm-adjusted p < alpha, difference > 0);
- ``worse``: label-free scores significantly higher (adjusted p < alpha, difference < 0);
- ``undecided``: no significant difference (which is not the same as "as good": no equivalence
  margin is tested).

The *crossover* is the step after the last ``better`` step, when that is not the largest step:
the stain is significantly better at some step below it and not significantly better at it or at
any larger step. There is none when the stain is never significantly better, or is significantly
better at the largest step tried. When no step is significant the sentence says that the data
cannot decide at this scale and gives the largest absolute difference with its interval.

The multiplicity family is the comparisons table's ``family``: one stain's comparisons with
label-free images along one sweep axis for one metric (Holm's step-down correction controls the
probability of any false call within it at alpha).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from stainworth.contracts.task import (
    SECONDARY_METRIC,
    VERDICT_METRIC,
    is_modality,
    is_virtual,
    modality_rank,
    network_source,
)
from stainworth.errors import ConfigError, InputDataError
from stainworth.evaluation.tables import TASK_METRICS, sort_rows
from stainworth.evaluation.trend import capacity_trend
from stainworth.evaluation.units import UnitScores

REFERENCE = "label_free"
METRIC_NAMES = {"precision": "precision", "recall": "recall", "dice": "Dice", "auc": "empirical AUC",
                "binormal_auc": "binormal AUC", "ap50": "instance AP at IoU 0.5",
                "ap": "instance AP over IoU 0.50:0.95", "count_error": "count error"}
AXES = ("capacity", "train_size")
FAMILY_WORDS = ("Holm's correction within each family of one modality's comparisons with label-free images along "
                "one sweep axis for one metric (e.g. 'virtual_effunet auc capacity': the architectures of the capacity "
                "sweep; 'virtual_effunet auc train_size': the training sizes of the learnable sweep)")
_NEEDED = ("task", "architecture", "train_size", "capacity", "modality", "reference", "metric", "difference", "ci_low",
           "ci_high", "df", "p_value", "p_adjusted", "family", "replicates")


@dataclass(frozen=True)
class CrossoverStep:
    """The stain against label-free at one capacity or training size (combined over trainings)."""

    architecture: str
    capacity: int
    train_size: int | None
    difference: float
    """Stain minus label-free."""
    ci_low: float
    ci_high: float
    df: float
    p_value: float
    p_adjusted: float
    """Holm-adjusted within the family."""
    replicates: int
    status: str
    """``"better"``, ``"worse"`` or ``"undecided"`` (see the module docstring)."""
    excluded: int = 0
    """Paired trainings left out: still degenerate after their last attempt."""


@dataclass(frozen=True)
class Crossover:
    """The significance of the stain's difference from label-free along one sweep, and the crossover.

    ``architecture``, ``capacity`` and ``train_size`` are those of the crossover step, all None
    when there is none; ``train_size`` is None on the capacity axis. ``steps`` holds every step in
    increasing order.
    """

    task: str
    metric: str
    stainer_modality: str
    axis: str
    """``"capacity"`` or ``"train_size"``."""
    family: str
    alpha: float
    confidence: float
    architecture: str | None
    capacity: int | None
    train_size: int | None
    steps: tuple[CrossoverStep, ...]
    index: int | None
    """Position of the crossover step in ``steps``; None when there is none."""

    @property
    def reached(self) -> bool:
        """Whether there is a crossover."""
        return self.index is not None

    @property
    def step(self) -> CrossoverStep | None:
        """The crossover step, or None."""
        return None if self.index is None else self.steps[self.index]

    @property
    def decided(self) -> bool:
        """Whether any step is significant."""
        return any(step.status != "undecided" for step in self.steps)


def _check_request(comparisons: pd.DataFrame, task: str, stainer_modality: str, metric: str, axis: str,
                   alpha: float) -> None:
    if task not in TASK_METRICS:
        raise ConfigError(f"task: found {task!r}; expected one of {', '.join(TASK_METRICS)}")
    if metric not in TASK_METRICS[task]:
        raise ConfigError(f"metric: found {metric!r} for {task}; expected one of {', '.join(TASK_METRICS[task])}")
    if stainer_modality == REFERENCE or not is_modality(stainer_modality):
        raise ConfigError(f"stainer_modality: found {stainer_modality!r}; expected one of virtual_effunet, "
                          "virtual_pix2pixhd, virtual_<external stainer>, fluorescence")
    if axis not in AXES:
        raise ConfigError(f"axis: found {axis!r}; expected one of {', '.join(AXES)}")
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha: found {alpha}; expected a level in (0, 1), e.g. 0.05")
    missing = [column for column in _NEEDED if column not in comparisons.columns]
    if missing:
        raise InputDataError(f"comparisons: lack column(s) {', '.join(missing)}; expected the combined table of "
                             "paired_comparisons")
    tasks = sorted(set(comparisons["task"]))
    if tasks != [task]:
        raise InputDataError(f"comparisons: hold rows of task(s) {tasks}; expected only {task} rows")


def _status(row: pd.Series, alpha: float) -> str:
    p = float(row["p_adjusted"])
    if math.isnan(p) or p >= alpha or float(row["difference"]) == 0:
        return "undecided"
    return "better" if float(row["difference"]) > 0 else "worse"


def _select(comparisons: pd.DataFrame, stainer_modality: str, metric: str, axis: str,
            architecture: str | None) -> pd.DataFrame:
    rows = comparisons[(comparisons["modality"] == stainer_modality) & (comparisons["metric"] == metric)
                       & (comparisons["reference"] == REFERENCE)]
    rows = rows[rows["train_size"].isna()] if axis == "capacity" else rows[rows["train_size"].notna()]
    if axis == "train_size":
        names = list(dict.fromkeys(rows["architecture"]))
        if architecture is None:
            if len(names) > 1:
                raise ConfigError(f"architecture: the learnable comparisons hold {', '.join(names)}; expected one to "
                                  "be named")
        elif architecture not in names:
            raise InputDataError(f"comparisons: have no {stainer_modality} {metric} rows of architecture "
                                 f"{architecture!r} in the learnable sweep; found {', '.join(names) or 'none'}")
        else:
            rows = rows[rows["architecture"] == architecture]
    if rows.empty:
        raise InputDataError(f"comparisons: have no {stainer_modality} minus {REFERENCE} {metric} rows along "
                             f"{axis}; expected rows of paired_comparisons for that sweep")
    return sort_rows(rows, ["train_size"] if axis == "train_size" else [])


def crossover(comparisons: pd.DataFrame, task: str, stainer_modality: str, metric: str, *, axis: str = "capacity",
              architecture: str | None = None, alpha: float = 0.05, confidence: float = 0.95) -> Crossover:
    """Classify every step of one sweep as better, worse or undecided, and find the crossover.

    Parameters
    ----------
    comparisons : pandas.DataFrame
        The combined table of :func:`~stainworth.evaluation.comparisons.paired_comparisons`
        (with ``p_adjusted`` and ``family``).
    task : str
        ``"segmentation"`` or ``"classification"``; the table must hold only this task.
    stainer_modality : str
        The modality compared with label-free images, e.g. ``"virtual_effunet"``.
    metric : str
        ``precision``, ``recall`` or ``dice`` (segmentation); ``auc`` (classification).
    axis : {"capacity", "train_size"}, optional
        The capacity sweep (default) or the training sizes of the learnable sweep.
    architecture : str, optional
        The architecture of a learnable sweep holding several; ignored on the capacity axis.
    alpha : float, optional
        Level of the Holm-adjusted tests (default 0.05).
    confidence : float, optional
        Coverage of the intervals in the table (for the sentences; default 0.95).

    Returns
    -------
    Crossover
        Every step with its status, and the crossover (see the module docstring).

    Raises
    ------
    ConfigError
        Unknown task, metric, stainer modality or axis, alpha outside (0, 1), or a learnable sweep
        of several architectures without ``architecture``.
    InputDataError
        The table lacks the combined columns, holds another task, or has no rows of this stain,
        metric and axis (or of the architecture named).
    """
    _check_request(comparisons, task, stainer_modality, metric, axis, alpha)
    rows = _select(comparisons, stainer_modality, metric, axis, architecture)
    steps = tuple(CrossoverStep(
        architecture=str(row["architecture"]), capacity=int(row["capacity"]),
        train_size=None if axis == "capacity" else int(row["train_size"]), difference=float(row["difference"]),
        ci_low=float(row["ci_low"]), ci_high=float(row["ci_high"]), df=float(row["df"]),
        p_value=float(row["p_value"]), p_adjusted=float(row["p_adjusted"]), replicates=int(row["replicates"]),
        status=_status(row, alpha), excluded=int(row.get("degenerate_excluded", 0))) for _, row in rows.iterrows())
    better = [index for index, step in enumerate(steps) if step.status == "better"]
    index = better[-1] + 1 if better and better[-1] + 1 < len(steps) else None
    at = steps[index] if index is not None else None
    return Crossover(task=task, metric=metric, stainer_modality=stainer_modality, axis=axis,
                     family=str(rows["family"].iloc[0]), alpha=alpha, confidence=confidence,
                     architecture=at.architecture if at else None, capacity=at.capacity if at else None,
                     train_size=at.train_size if at else None, steps=steps, index=index)


def _named(architecture: str) -> str:
    """``architecture`` in a sentence: a network of your own as ``your <name>``."""
    return f"your {architecture}" if network_source(architecture) == "user" else architecture


def _where(step: CrossoverStep, axis: str) -> str:
    if axis == "capacity":
        return f"{_named(step.architecture)} ({step.capacity:,} parameters)"
    return f"{step.train_size:,} training images"


def _listing(steps: Sequence[CrossoverStep], axis: str) -> str:
    places = [_where(step, axis) for step in steps]
    return places[0] if len(places) == 1 else ", ".join(places[:-1]) + " and " + places[-1]


def _figures(step: CrossoverStep, result: Crossover) -> str:
    df = "1,000+" if step.df > 1000 else f"{step.df:.1f}"
    return (f"{step.difference:+.3f}, {100 * result.confidence:g}% CI {step.ci_low:+.3f} to {step.ci_high:+.3f}, "
            f"df {df}, Holm-adjusted p = {step.p_adjusted:.2g}")


def crossover_sentence(result: Crossover) -> str:
    """Describe a :class:`Crossover` in plain English.

    Parameters
    ----------
    result : Crossover
        The output of :func:`crossover`.

    Returns
    -------
    str
        Where the stain scores significantly higher or lower than label-free images, the
        crossover if any (with its parameter count, thousands-separated, or training size), or
        that the data cannot decide at this scale, with the figures of the deciding step.

    Examples
    --------
    A typical result reads: "virtual_effunet images score a significantly higher empirical AUC than
    label-free images at cnn1 (417 parameters) and cnn3 (24,321 parameters); from resnet18
    (11,170,753 parameters) on, no step shows a significant advantage (Holm-adjusted over the 5
    capacities of family 'virtual_effunet auc capacity', alpha = 0.05); at resnet18 (11,170,753
    parameters): +0.012, 95% CI -0.020 to +0.044, df 2.3, Holm-adjusted p = 0.62."
    """
    steps, axis = list(result.steps), result.axis
    metric = METRIC_NAMES.get(result.metric, result.metric)
    stain = result.stainer_modality
    lead = "" if axis == "capacity" else f"With {_named(steps[0].architecture)} ({steps[0].capacity:,} parameters), "
    plural = "capacities" if axis == "capacity" else "training sizes"
    family = f"(Holm-adjusted over the {len(steps)} {plural} of family '{result.family}', alpha = {result.alpha:g})"
    return _decision(result, steps, lead, stain, metric, plural, family) + _excluded_sentence(steps, axis)


def _excluded_sentence(steps: Sequence[CrossoverStep], axis: str) -> str:
    """`` Left out ...`` naming the steps with trainings still degenerate after their last attempt; or empty."""
    flagged = [step for step in steps if step.excluded]
    if not flagged:
        return ""
    parts = [f"{step.excluded} of {step.excluded + step.replicates} at {_where(step, axis)}" for step in flagged]
    listing = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return (f" Paired trainings left out because one of the two is still degenerate after its last attempt (see "
            f"the training endings): {listing}.")


def _decision(result: Crossover, steps: list[CrossoverStep], lead: str, stain: str, metric: str, plural: str,
              family: str) -> str:
    axis = result.axis
    better = [step for step in steps if step.status == "better"]
    worse = [step for step in steps if step.status == "worse"]
    if not result.decided:
        opening = f"{lead}the data" if lead else "The data"
        compared = [step for step in steps if math.isfinite(step.difference)]
        if not compared:
            return (f"{opening} cannot decide whether {stain} images score a different {metric} than label-free "
                    f"images: no pair of trainings is left to compare.")
        largest = max(compared, key=lambda step: abs(step.difference))
        return (f"{opening} cannot decide at this scale whether {stain} images score a different {metric} than "
                f"label-free images: no difference is significant {family}; the largest, at "
                f"{_where(largest, axis)}, is {_figures(largest, result)}.")
    worse_clause = f"; label-free images score significantly higher at {_listing(worse, axis)}" if worse else ""
    if result.step is not None:
        return (f"{lead}{stain} images score a significantly higher {metric} than label-free images at "
                f"{_listing(better, axis)}; from {_where(result.step, axis)} on, no step shows a significant "
                f"advantage{worse_clause} {family}; at {_where(result.step, axis)}: {_figures(result.step, result)}.")
    if better:
        last = steps[-1]
        return (f"{lead}{stain} images score a significantly higher {metric} than label-free images at "
                f"{_listing(better, axis)}, the largest of the {plural} tried included: no crossover within the "
                f"{plural} tried{worse_clause} {family}; at {_where(last, axis)}: {_figures(last, result)}.")
    return (f"{lead}{stain} images never score a significantly higher {metric} than label-free images within the "
            f"{plural} tried; label-free images score significantly higher at {_listing(worse, axis)} {family}; "
            f"at {_where(worse[-1], axis)}: {_figures(worse[-1], result)}.")


def _largest_capacity(result: Crossover) -> dict[str, Any]:
    step = result.steps[-1]
    significant = step.status != "undecided"
    where = f"At the largest capacity ({_named(step.architecture)}, {step.capacity:,} parameters)"
    if math.isfinite(step.difference):
        sentence = (f"{where} {result.stainer_modality} minus label-free "
                    f"{METRIC_NAMES.get(result.metric, result.metric)} is {_figures(step, result)}, {step.replicates} "
                    f"paired training{'s' * (step.replicates != 1)}: "
                    f"{'significant' if significant else 'not significant'} at the {100 * result.alpha:g}% level "
                    "after Holm's correction.")
    else:
        sentence = (f"{where} no pair of trainings is left to compare: all {step.excluded} are left out, a training "
                    "still degenerate after its last attempt in each.")
    return {"architecture": step.architecture, "capacity": step.capacity, "difference": step.difference,
            "ci_low": step.ci_low, "ci_high": step.ci_high, "p_value": step.p_value, "p_adjusted": step.p_adjusted,
            "significant": significant, "sentence": sentence, "excluded": step.excluded}


def _details(result: Crossover) -> dict[str, Any]:
    return {"family": result.family, "crossover": result.architecture if result.axis == "capacity"
            else result.train_size, "decided": result.decided,
            "steps": [{"architecture": s.architecture, "capacity": s.capacity, "train_size": s.train_size,
                       "difference": s.difference, "ci_low": s.ci_low, "ci_high": s.ci_high, "df": s.df,
                       "p_value": s.p_value, "p_adjusted": s.p_adjusted, "status": s.status,
                       "excluded": s.excluded} for s in result.steps]}


def _user_networks(comparisons: pd.DataFrame | None) -> list[str]:
    """``<name> (<n> parameters)`` of every network of your own in the comparisons, by capacity."""
    if comparisons is None or comparisons.empty:
        return []
    pairs = comparisons[["architecture", "capacity"]].drop_duplicates("architecture").sort_values(
        "capacity", kind="stable")
    return [f"{name} ({int(capacity):,} parameters)" for name, capacity in zip(pairs["architecture"],
                                                                                pairs["capacity"], strict=True)
            if network_source(str(name)) == "user"]


def _json_safe(value: Any) -> Any:
    """NaN and infinities as None (strict JSON), recursively."""
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def study_verdict(task: str, tables: Mapping[str, pd.DataFrame], units: Sequence[UnitScores] = (), *,
                  alpha: float = 0.05, confidence: float = 0.95) -> dict[str, Any]:
    """The verdict of one task: per virtual stain, each sweep's significant steps, crossover and trend.

    Parameters
    ----------
    task : str
        ``"segmentation"`` (decided on Dice) or ``"classification"`` (empirical AUC).
    tables : mapping of str to pandas.DataFrame
        The ``evaluate`` tables; ``"comparisons"`` (the combined table of
        :func:`~stainworth.evaluation.comparisons.paired_comparisons`) is used.
    units : sequence of UnitScores, optional
        The units, for the capacity trend (:func:`~stainworth.evaluation.trend.capacity_trend`);
        none: no trend sentence.
    alpha : float, optional
        Level of the Holm-adjusted tests (default 0.05).
    confidence : float, optional
        Coverage of the intervals (default 0.95).

    Returns
    -------
    dict
        ``metric``; ``sentences`` (per stain: the capacity sweep, the largest capacity, the
        learnable sweep of each architecture, the capacity sweep of the instance AP when the
        segmentation comparisons hold it, the trend over capacity); ``details`` (per
        ``"<stain>.capacity"``, ``"<stain>.train_size"``, ``"<stain>.train_size.<architecture>"`` or
        ``"<stain>.capacity.ap"``: family, crossover and every step; ``"<stain>.largest_capacity"``;
        ``"<stain>.capacity_trend"``), JSON-safe (NaN as None); ``family``: the multiplicity family in words.

    Raises
    ------
    ConfigError
        Unknown task or alpha outside (0, 1).
    InputDataError
        The comparisons table is not a combined table of this task.
    """
    if task not in VERDICT_METRIC:
        raise ConfigError(f"task: found {task!r}; expected one of {', '.join(VERDICT_METRIC)}")
    metric = VERDICT_METRIC[task]
    comparisons = tables.get("comparisons")
    sentences: list[str] = []
    details: dict[str, Any] = {}
    present = [] if comparisons is None else comparisons["modality"].astype(str).unique()
    for stainer in sorted((m for m in present if is_virtual(m)), key=modality_rank):
        rows = pd.DataFrame() if comparisons is None else comparisons[
            (comparisons["modality"] == stainer) & (comparisons["metric"] == metric)]
        if not rows.empty and rows["train_size"].isna().any():
            result = crossover(comparisons, task, stainer, metric, alpha=alpha, confidence=confidence)
            sentences.append(crossover_sentence(result))
            details[f"{stainer}.capacity"] = _details(result)
            largest = _largest_capacity(result)
            sentences.append(largest["sentence"])
            details[f"{stainer}.largest_capacity"] = largest
        learnable = rows[rows["train_size"].notna()] if not rows.empty else rows
        names = list(dict.fromkeys(learnable["architecture"])) if not learnable.empty else []
        for architecture in names:
            result = crossover(comparisons, task, stainer, metric, axis="train_size", architecture=architecture,
                               alpha=alpha, confidence=confidence)
            sentences.append(crossover_sentence(result))
            key = f"{stainer}.train_size" if len(names) == 1 else f"{stainer}.train_size.{architecture}"
            details[key] = _details(result)
        secondary = SECONDARY_METRIC.get(task)
        if secondary is not None and comparisons is not None and not comparisons[
                (comparisons["modality"] == stainer) & (comparisons["metric"] == secondary)
                & comparisons["train_size"].isna()].empty:
            result = crossover(comparisons, task, stainer, secondary, alpha=alpha, confidence=confidence)
            sentences.append(crossover_sentence(result))
            details[f"{stainer}.capacity.{secondary}"] = _details(result)
        trend = capacity_trend(units, stainer, metric, confidence=confidence) if units else None
        if trend is not None:
            sentences.append(trend.sentence)
            details[f"{stainer}.capacity_trend"] = {
                "slope": trend.slope, "se": trend.se, "ci_low": trend.ci_low, "ci_high": trend.ci_high,
                "df": trend.df, "p_value": trend.p_value, "tau2": trend.tau2, "direction": trend.direction,
                "capacities": trend.capacities, "replicates": trend.replicates, "method": trend.method}
    if not sentences:
        sentences.append(f"No verdict: the {task} units hold no label-free and virtual-stain pair to compare.")
    own = _user_networks(comparisons)
    if own:
        sentences.append(f"Networks of your own on the capacity axis: {', '.join(own)}.")
        details["user_networks"] = own
    return {"metric": metric, "sentences": sentences, "details": _json_safe(details), "family": FAMILY_WORDS}
