"""Task performance per modality: the capacity sweep (Figs 3, 9) and the learnable-capacity sweep (Figs 4, 10).

Capacity sweep (:func:`capacity_table`, units trained on the full training split): one row per
(architecture, modality).

- Segmentation: the mean precision, recall and Dice over the test images, each with a
  percentile-bootstrap confidence interval of the mean (test images resampled with replacement,
  ``numpy.random.default_rng(seed)``, via :func:`stainworth.metrics.bootstrap.resampled_means`)
  and the number of images where the score is defined (recall is NaN on images without nuclei).
- Classification: the empirical AUC with DeLong's standard error and logit-scale interval
  (:func:`stainworth.metrics.empirical_auc`), and the binormal maximum-likelihood AUC with its
  delta-method standard error and probit-scale interval (:func:`stainworth.metrics.fit_binormal`,
  the ROCKIT-style estimate the study reported) with its ``degenerate`` flag and ``note``.

Learnable-capacity sweep (:func:`learnable_table`, units with a training size): one row per
(architecture, train_size, modality) with the mean and the sample standard deviation (ddof 1)
over the random training subsets of each unit's test-set metric, as the study reported.

Rows are ordered by the architecture's capacity (its smallest parameter count over modalities,
so that one architecture's rows stay together), then training size, then modality in the order
label_free, virtual_effunet, virtual_pix2pixhd, fluorescence.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from stainworth.errors import InputDataError
from stainworth.evaluation.units import UnitScores, check_units, modality_rank
from stainworth.metrics import empirical_auc, fit_binormal
from stainworth.metrics.bootstrap import resampled_means

SEGMENTATION_METRICS = ("precision", "recall", "dice")
CLASSIFICATION_METRICS = ("auc", "binormal_auc")
TASK_METRICS: dict[str, tuple[str, ...]] = {"segmentation": SEGMENTATION_METRICS,
                                            "classification": CLASSIFICATION_METRICS}
"""Metric columns of each task: ``auc`` is the empirical AUC, ``binormal_auc`` the binormal ML AUC."""


def mean_interval(values: np.ndarray, *, n_boot: int = 2000, confidence: float = 0.95,
                  seed: int = 0) -> tuple[float, float, float, int]:
    """Mean of the defined values with a percentile-bootstrap confidence interval.

    Parameters
    ----------
    values : numpy.ndarray
        (n,) per-image scores; NaN marks an undefined score and is left out.
    n_boot : int, optional
        Number of resamples (default 2000).
    confidence : float, optional
        Nominal coverage (default 0.95).
    seed : int, optional
        Seed of the resampling; the same seed gives the same interval.

    Returns
    -------
    mean, ci_low, ci_high : float
        NaN when no value is defined; the interval is the point when one value is.
    n : int
        Number of defined values.
    """
    values = np.asarray(values, dtype=np.float64)
    defined = values[~np.isnan(values)]
    if defined.size == 0:
        return float("nan"), float("nan"), float("nan"), 0
    boot = resampled_means(defined, n_boot=n_boot, seed=seed)
    low, high = np.quantile(boot, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(defined.mean()), float(low), float(high), int(defined.size)


def _segmentation_summary(unit: UnitScores, n_boot: int, confidence: float, seed: int) -> dict[str, Any]:
    row: dict[str, Any] = {"n": len(unit.scores)}
    for metric in SEGMENTATION_METRICS:
        mean, low, high, n = mean_interval(unit.scores[metric].to_numpy(dtype=np.float64), n_boot=n_boot,
                                           confidence=confidence, seed=seed)
        row |= {metric: mean, f"{metric}_ci_low": low, f"{metric}_ci_high": high, f"{metric}_n": n}
    return row


def _classification_summary(unit: UnitScores, confidence: float) -> dict[str, Any]:
    scores, labels = unit.scores["score"].to_numpy(dtype=np.float64), unit.scores["label"].to_numpy()
    try:
        empirical = empirical_auc(scores, labels, confidence=confidence)
        binormal = fit_binormal(scores, labels, confidence=confidence)
    except InputDataError as error:
        raise InputDataError(f"{unit.describe()}: {error}") from None
    return {"n": len(unit.scores), "n_pos": empirical.n_pos, "n_neg": empirical.n_neg,
            "auc": empirical.auc, "auc_se": empirical.se, "auc_ci_low": empirical.ci_low,
            "auc_ci_high": empirical.ci_high, "binormal_auc": binormal.auc, "binormal_auc_se": binormal.se,
            "binormal_auc_ci_low": binormal.ci_low, "binormal_auc_ci_high": binormal.ci_high,
            "binormal_degenerate": binormal.degenerate, "binormal_note": binormal.note}


def unit_summary(unit: UnitScores, *, n_boot: int = 2000, confidence: float = 0.95, seed: int = 0) -> dict[str, Any]:
    """Test-set performance of one unit with its uncertainty (the columns of :func:`capacity_table`).

    Parameters
    ----------
    unit : UnitScores
        The unit.
    n_boot, confidence, seed
        Bootstrap settings of the segmentation intervals; ``confidence`` also sets the AUC intervals.

    Returns
    -------
    dict
        Key columns, ``capacity``, ``n`` and the metric columns described in the module docstring.
    """
    keys = {"task": unit.task, "architecture": unit.architecture, "modality": unit.modality,
            "train_size": unit.train_size, "subset": unit.subset, "capacity": unit.capacity}
    if unit.task == "segmentation":
        metrics = _segmentation_summary(unit, n_boot, confidence, seed)
    else:
        metrics = _classification_summary(unit, confidence)
    return keys | metrics | {"run": unit.run}


def sort_rows(table: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """Rows by architecture capacity (its smallest over modalities), then ``by``, then modality order.

    Parameters
    ----------
    table : pandas.DataFrame
        Rows with ``architecture``, ``capacity``, ``modality`` and the ``by`` columns.
    by : sequence of str, optional
        Further sort keys between the architecture and the modality (missing values first).

    Returns
    -------
    pandas.DataFrame
        The sorted rows, with a fresh index.
    """
    if table.empty:
        return table.reset_index(drop=True)
    rank = table.groupby("architecture")["capacity"].transform("min")
    order = table.assign(_rank=rank, _modality=table["modality"].map(modality_rank))
    order = order.sort_values(["_rank", "architecture", *by, "_modality"], kind="stable", na_position="first")
    return order.drop(columns=["_rank", "_modality"]).reset_index(drop=True)


def capacity_table(units: Sequence[UnitScores], *, n_boot: int = 2000, confidence: float = 0.95,
                   seed: int = 0) -> pd.DataFrame:
    """Performance of every (architecture, modality) of the capacity sweep, with confidence intervals.

    Parameters
    ----------
    units : sequence of UnitScores
        Units of one task; those with ``train_size`` None form the capacity sweep, the others are
        ignored.
    n_boot : int, optional
        Bootstrap resamples of the segmentation intervals (default 2000).
    confidence : float, optional
        Coverage of every interval (default 0.95).
    seed : int, optional
        Seed of the bootstrap (default 0); the same seed gives the same table.

    Returns
    -------
    pandas.DataFrame
        One row per (architecture, modality): ``task``, ``architecture``, ``modality``,
        ``capacity``, ``n``, the metric columns (segmentation: ``precision``, ``recall``,
        ``dice``, each with ``_ci_low``, ``_ci_high``, ``_n``; classification: ``n_pos``,
        ``n_neg``, ``auc``, ``auc_se``, ``auc_ci_low``, ``auc_ci_high``, ``binormal_auc``,
        ``binormal_auc_se``, ``binormal_auc_ci_low``, ``binormal_auc_ci_high``,
        ``binormal_degenerate``, ``binormal_note``) and ``run``.

    Raises
    ------
    InputDataError
        The units fail :func:`~stainworth.evaluation.units.check_units`, none is of the capacity
        sweep, an (architecture, modality) has more than one sweep unit, or a classification
        unit's labels or scores are unusable for ROC analysis.
    """
    check_units(units)
    sweep = [unit for unit in units if unit.train_size is None]
    if not sweep:
        raise InputDataError(f"capacity sweep: found no unit with train_size None among {len(units)} units; "
                             "expected the units trained on the full training split")
    seen: dict[tuple[str, str], UnitScores] = {}
    for unit in sweep:
        first = seen.setdefault((unit.architecture, unit.modality), unit)
        if first is not unit:
            raise InputDataError(f"capacity sweep: {first.describe()} and {unit.describe()} are both "
                                 f"{unit.architecture}/{unit.modality}; expected one unit per architecture and "
                                 "modality")
    rows = [unit_summary(unit, n_boot=n_boot, confidence=confidence, seed=seed) for unit in sweep]
    table = pd.DataFrame(rows).drop(columns=["train_size", "subset"])
    return sort_rows(table)


def _subset_metrics(unit: UnitScores) -> dict[str, Any]:
    """Test-set metrics of one learnable-capacity unit (no intervals: the spread comes from the subsets)."""
    if unit.task == "segmentation":
        return {metric: float(np.nanmean(unit.scores[metric].to_numpy(dtype=np.float64)))
                if unit.scores[metric].notna().any() else float("nan") for metric in SEGMENTATION_METRICS}
    summary = _classification_summary(unit, 0.95)
    return {"auc": summary["auc"], "binormal_auc": summary["binormal_auc"],
            "binormal_degenerate": summary["binormal_degenerate"]}


def _learnable_row(group: list[UnitScores]) -> dict[str, Any]:
    group = sorted(group, key=lambda unit: unit.subset)
    first = group[0]
    per_subset = pd.DataFrame([_subset_metrics(unit) for unit in group])
    row: dict[str, Any] = {"task": first.task, "architecture": first.architecture, "train_size": first.train_size,
                           "modality": first.modality, "capacity": first.capacity, "n_subsets": len(group)}
    for metric in TASK_METRICS[first.task]:
        values = per_subset[metric]
        row |= {f"{metric}_mean": float(values.mean()),
                f"{metric}_std": float(values.std(ddof=1)) if values.count() > 1 else float("nan")}
    if first.task == "classification":
        row["n_binormal_degenerate"] = int(per_subset["binormal_degenerate"].sum())
    return row | {"runs": ";".join(unit.run for unit in group)}


def learnable_table(units: Sequence[UnitScores]) -> pd.DataFrame:
    """Mean and spread over training subsets of every (architecture, train_size, modality).

    Parameters
    ----------
    units : sequence of UnitScores
        Units of one task; those with a ``train_size`` form the learnable-capacity sweep, the
        others are ignored.

    Returns
    -------
    pandas.DataFrame
        One row per (architecture, train_size, modality): ``task``, ``architecture``,
        ``train_size``, ``modality``, ``capacity``, ``n_subsets``, ``<metric>_mean`` and
        ``<metric>_std`` (sample standard deviation over subsets, NaN for a single subset) for
        each metric (segmentation: ``precision``, ``recall``, ``dice``, the test-set means;
        classification: ``auc``, ``binormal_auc``, plus ``n_binormal_degenerate``), and ``runs``
        (the subsets' runs in subset order, joined by ``;``).

    Raises
    ------
    InputDataError
        The units fail :func:`~stainworth.evaluation.units.check_units`, none has a training size,
        or a classification unit's labels or scores are unusable for ROC analysis.
    """
    check_units(units)
    groups: dict[tuple[str, int, str], list[UnitScores]] = {}
    for unit in units:
        if unit.train_size is not None:
            groups.setdefault((unit.architecture, unit.train_size, unit.modality), []).append(unit)
    if not groups:
        raise InputDataError(f"learnable-capacity sweep: found no unit with a train_size among {len(units)} units; "
                             "expected units trained on subsets of the training split")
    table = pd.DataFrame([_learnable_row(group) for group in groups.values()])
    return sort_rows(table, ["train_size"])
