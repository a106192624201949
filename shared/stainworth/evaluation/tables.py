"""Task performance per modality: the capacity sweep (Figs 3, 9) and the learnable-capacity sweep (Figs 4, 10).

Every network is trained several times (replicates; and, in the learnable sweep, on several
random training subsets), and every training is tested on the same test items. A figure for a
network therefore combines the trainings, and its interval covers both sources of variation:
retraining and test-set sampling (:func:`stainworth.metrics.replicates.combine_replicates`, the
Obuchowski-Rockette combination with the test-sampling covariance of the trainings,
:func:`unit_statistics`; the spread of the G trainings or training subsets on t with G - 1 degrees
of freedom, the shared test-set part on the normal quantile, ``df_method="components"``).

Capacity sweep (:func:`capacity_table`, units trained on the full training split): per
(architecture, modality), one *summary* row (``replicate`` missing) with the combined figures,
followed by one row per replicate with that training's test-set figures:

- Segmentation: mean precision, recall and Dice over the test images. Replicate rows: the
  percentile-bootstrap interval of the mean (test images resampled, ``numpy.random.default_rng(seed)``,
  via :func:`stainworth.metrics.bootstrap.resampled_means`) and the defined images (``_n``).
  Summary rows: the mean over replicates of the means over the images where every replicate's
  score is defined, its combined ``_se``, interval, ``_df``, ``_training_sd`` and ``_se_test``
  (test covariance: the covariance of the per-image columns over n).
- Classification: the empirical AUC (DeLong se, logit-scale interval) and the binormal ML AUC
  (delta-method se, probit-scale interval, ``degenerate`` flag and ``note``) of each replicate;
  summary rows combine them, the empirical AUCs with DeLong's covariance, the binormal AUCs with
  an *approximate* test covariance: DeLong's correlation of the empirical AUCs times the binormal
  standard errors (no joint binormal fit is made).

Learnable-capacity sweep (:func:`learnable_table`, units with a training size): one row per
(architecture, train_size, modality) with the combined estimate (``_mean``), the standard deviation
over all its trainings (``_std``, the study's error bars) and the combined ``_se``, interval and
``_df`` with the training subsets as clusters (replicates averaged within their subset first).

Rows are ordered by the architecture's capacity (its smallest parameter count over modalities,
so that one architecture's rows stay together), then training size, then modality in the order
label_free, virtual_effunet, virtual_pix2pixhd, fluorescence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from stainworth.contracts.task import network_source
from stainworth.errors import InputDataError
from stainworth.evaluation.units import UnitScores, aligned_scores, check_units, modality_rank
from stainworth.metrics import delong_covariance, empirical_auc, fit_binormal
from stainworth.metrics.bootstrap import resampled_means
from stainworth.metrics.instances import INSTANCE_METRICS
from stainworth.metrics.replicates import ReplicateCombination, combine_replicates, mean_covariance

SEGMENTATION_METRICS = ("precision", "recall", "dice", *INSTANCE_METRICS)
"""Pixel scores, then the per-object ones (:mod:`stainworth.metrics.instances`: ``ap50``, ``ap``,
``count_error``), which units scored on a dataset without instance labels lack."""
CLASSIFICATION_METRICS = ("auc", "binormal_auc")
TASK_METRICS: dict[str, tuple[str, ...]] = {"segmentation": SEGMENTATION_METRICS,
                                            "classification": CLASSIFICATION_METRICS}
"""Metric columns of each task: ``auc`` is the empirical AUC, ``binormal_auc`` the binormal ML AUC."""
COMBINED_SUFFIXES = ("_se", "_ci_low", "_ci_high", "_df", "_training_sd", "_se_test")
"""Columns of a combined metric after its estimate (in summary rows of :func:`capacity_table`)."""
BINORMAL_COVARIANCE_NOTE = "binormal test covariance approximated by DeLong's correlation times the binormal se"


def metrics_of(units: Sequence[UnitScores]) -> tuple[str, ...]:
    """The task's metrics that every unit's scores carry (all of them for classification).

    >>> import pandas as pd
    >>> unit = UnitScores("segmentation", "unet1", "label_free", None, 0, 1,
    ...                   pd.DataFrame(columns=["item", "precision", "recall", "dice"]), "run")
    >>> metrics_of([unit])
    ('precision', 'recall', 'dice')
    """
    if units[0].task == "classification":
        return CLASSIFICATION_METRICS
    return tuple(metric for metric in SEGMENTATION_METRICS if all(metric in unit.scores.columns for unit in units))


@dataclass(frozen=True)
class UnitStatistics:
    """One metric of k units on the same test items and the covariance of its test-sampling errors.

    Attributes
    ----------
    values : numpy.ndarray
        (k,) the metric of each unit, in the order given.
    covariance : numpy.ndarray
        (k, k) test-sampling covariance; NaN where it cannot be estimated (degenerate binormal fit).
    n : int
        Test items used.
    note : str
        Empty, or what limits the covariance (approximation, degenerate fits).
    """

    values: np.ndarray
    covariance: np.ndarray
    n: int
    note: str


def unit_statistics(units: Sequence[UnitScores], metric: str) -> UnitStatistics:
    """A metric of several units tested on the same items, with its test-sampling covariance.

    Parameters
    ----------
    units : sequence of UnitScores
        Units of one task, tested on the same test items.
    metric : str
        ``auc`` (empirical; DeLong's covariance), ``binormal_auc`` (binormal ML fit; DeLong's
        correlation times the binormal standard errors, an approximation) or a segmentation score
        (mean over the images where every unit's score is defined; the covariance of the per-image
        columns over their number).

    Returns
    -------
    UnitStatistics
        Values, covariance, test items used and a note.

    Raises
    ------
    InputDataError
        No units, a metric that is not one of the units' task, units scored on different test items
        or with different labels, a classification unit's scores unusable for ROC analysis, or
        fewer than 2 images with every score defined.
    """
    if not units:
        raise InputDataError("no units: found 0 units; expected at least one unit's scores")
    if metric in SEGMENTATION_METRICS and units[0].task == "segmentation":
        lacking = [unit for unit in units if metric not in unit.scores.columns]
        if lacking:
            raise InputDataError(f"{lacking[0].describe()}: scores lack '{metric}'; expected it in every unit (the "
                                 "per-object scores need a dataset with instance labels: extract it again)")
        columns, _ = aligned_scores(units, metric)
        result = mean_covariance(columns)
        return UnitStatistics(result.means, result.covariance, result.n, "")
    if metric not in CLASSIFICATION_METRICS or units[0].task != "classification":
        raise InputDataError(f"metric: found {metric!r} for {units[0].task} units; expected one of "
                             f"{', '.join(TASK_METRICS[units[0].task])}")
    scores, labels = aligned_scores(units, "score")  # classification units: labels are never None
    try:
        delong = delong_covariance(scores.T, cast(np.ndarray, labels))
    except InputDataError as error:
        raise InputDataError(f"{units[0].describe()} and {len(units) - 1} more: {error}") from None
    n = delong.n_pos + delong.n_neg
    if metric == "auc":
        return UnitStatistics(delong.aucs, delong.covariance, n, "")
    fits = [fit_binormal(column, cast(np.ndarray, labels)) for column in scores.T]
    se = np.array([fit.se for fit in fits])
    sd = np.sqrt(np.diag(delong.covariance))
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = delong.covariance / np.outer(sd, sd)
    correlation[~np.isfinite(correlation)] = 0.0
    np.fill_diagonal(correlation, 1.0)
    degenerate = sum(fit.degenerate for fit in fits)
    note = BINORMAL_COVARIANCE_NOTE + (f"; {degenerate} degenerate fit(s): no interval" if degenerate else "")
    return UnitStatistics(np.array([fit.auc for fit in fits]), correlation * np.outer(se, se), n, note)


def combine(statistics: UnitStatistics, *, clusters: Sequence[object] | None = None,
            confidence: float = 0.95) -> ReplicateCombination | None:
    """Combine one modality's values of :func:`unit_statistics` over trainings; None when undefined.

    Parameters
    ----------
    statistics : UnitStatistics
        Per-training values and their test covariance.
    clusters : sequence, optional
        Training subset of each value (see :func:`~stainworth.metrics.replicates.combine_replicates`).
    confidence : float, optional
        Coverage of the interval.

    Returns
    -------
    ReplicateCombination or None
        None when a value or the covariance is NaN (e.g. a degenerate binormal fit). The interval
        is ``df_method="components"``: for one modality's figure the Satterthwaite df under-covers
        and G - 1 df on the whole variance over-covers (see :mod:`stainworth.metrics.replicates`).
    """
    if not (np.isfinite(statistics.values).all() and np.isfinite(statistics.covariance).all()):
        return None
    return combine_replicates(statistics.values, statistics.covariance, clusters=clusters, confidence=confidence,
                              df_method="components")


def combined_columns(metric: str, result: ReplicateCombination | None, estimate: float) -> dict[str, Any]:
    """``<metric>``, ``<metric>_se``, ``_ci_low``, ``_ci_high``, ``_df``, ``_training_sd``, ``_se_test`` of a result."""
    if result is None:
        return {metric: estimate} | {f"{metric}{suffix}": float("nan") for suffix in COMBINED_SUFFIXES}
    return {metric: result.estimate, f"{metric}_se": result.se, f"{metric}_ci_low": result.ci_low,
            f"{metric}_ci_high": result.ci_high, f"{metric}_df": result.df,
            f"{metric}_training_sd": result.training_sd, f"{metric}_se_test": result.se_test}


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
    for metric in metrics_of([unit]):
        values = unit.scores[metric].to_numpy(dtype=np.float64)
        mean, low, high, n = mean_interval(values, n_boot=n_boot, confidence=confidence, seed=seed)
        se = float(np.nanstd(values, ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
        row |= {metric: mean, f"{metric}_se": se, f"{metric}_ci_low": low, f"{metric}_ci_high": high,
                f"{metric}_n": n}
    return row | {"note": ""}


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
            "binormal_degenerate": binormal.degenerate, "binormal_note": binormal.note, "note": empirical.note}


def unit_summary(unit: UnitScores, *, n_boot: int = 2000, confidence: float = 0.95, seed: int = 0) -> dict[str, Any]:
    """Test-set performance of one training with its test-set uncertainty (a replicate row of :func:`capacity_table`).

    Parameters
    ----------
    unit : UnitScores
        The unit.
    n_boot, confidence, seed
        Bootstrap settings of the segmentation intervals; ``confidence`` also sets the AUC intervals.

    Returns
    -------
    dict
        Key columns (with ``replicate``), ``capacity``, ``n``, the metric columns described in the
        module docstring, ``note`` and ``run``.
    """
    keys = {"task": unit.task, "architecture": unit.architecture, "modality": unit.modality,
            "train_size": unit.train_size, "subset": unit.subset, "replicate": unit.replicate,
            "capacity": unit.capacity}
    if unit.task == "segmentation":
        metrics = _segmentation_summary(unit, n_boot, confidence, seed)
    else:
        metrics = _classification_summary(unit, confidence)
    return keys | metrics | {"run": unit.run}


def _notes(*notes: str) -> str:
    return "; ".join(dict.fromkeys(note for note in notes if note))


def _combined_row(group: list[UnitScores], replicate_rows: list[dict[str, Any]], confidence: float) -> dict[str, Any]:
    """The summary row of the replicates of one (architecture, modality), given their replicate rows."""
    first = group[0]
    row: dict[str, Any] = {"task": first.task, "architecture": first.architecture, "modality": first.modality,
                           "replicate": pd.NA, "capacity": first.capacity}
    notes = []
    for metric in metrics_of(group):
        try:
            statistics = unit_statistics(group, metric)
        except InputDataError as error:
            raise InputDataError(f"capacity sweep, {first.architecture}/{first.modality}: {error}") from None
        result = combine(statistics, confidence=confidence)
        row |= combined_columns(metric, result, float(np.mean(statistics.values)))
        if first.task == "segmentation":
            row[f"{metric}_n"] = statistics.n
        else:
            row["n"] = statistics.n
        notes += [statistics.note, result.note if result is not None else ""]
    if first.task == "classification":
        labels = group[0].scores["label"].to_numpy()
        row |= {"n_pos": int(np.sum(labels == 1)), "n_neg": int(np.sum(labels == 0))}
        row["binormal_degenerate"] = any(fit["binormal_degenerate"] for fit in replicate_rows)
        row["binormal_note"] = _notes(*(fit["binormal_note"] for fit in replicate_rows))
    else:
        row["n"] = len(group[0].scores)
    return row | {"replicates": len(group), "note": _notes(*notes), "run": ";".join(unit.run for unit in group)}


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
        The sorted rows (stable: rows of equal keys keep their order), with a fresh index.
    """
    if table.empty:
        return table.reset_index(drop=True)
    rank = table.groupby("architecture")["capacity"].transform("min")
    order = table.assign(_rank=rank, _modality=table["modality"].map(modality_rank))
    order = order.sort_values(["_rank", "architecture", *by, "_modality"], kind="stable", na_position="first")
    return order.drop(columns=["_rank", "_modality"]).reset_index(drop=True)


def capacity_table(units: Sequence[UnitScores], *, n_boot: int = 2000, confidence: float = 0.95,
                   seed: int = 0) -> pd.DataFrame:
    """Performance of every (architecture, modality) of the capacity sweep: combined, then per replicate.

    Parameters
    ----------
    units : sequence of UnitScores
        Units of one task; those with ``train_size`` None form the capacity sweep, the others are
        ignored. All are tested on the same test items.
    n_boot : int, optional
        Bootstrap resamples of the segmentation intervals of the replicate rows (default 2000).
    confidence : float, optional
        Coverage of every interval (default 0.95).
    seed : int, optional
        Seed of the bootstrap (default 0); the same seed gives the same table.

    Returns
    -------
    pandas.DataFrame
        Per (architecture, modality) a summary row (``replicate`` missing, ``replicates`` the
        count; even for one replicate, whose ``note`` then says that the interval covers
        test-set sampling only), then one row per replicate (``replicate`` 0, 1, ...). Columns:
        ``task``, ``architecture``, ``modality``, ``replicate`` (nullable integer), ``capacity``,
        ``n`` (classification also ``n_pos``, ``n_neg``), the metric columns (classification then
        ``binormal_degenerate``, ``binormal_note``), ``replicates`` (nullable integer), ``note`` and
        ``run`` (summary rows: the replicates' runs joined by ``;``). Metric columns, for
        ``precision``, ``recall``, ``dice`` and, where scored, ``ap50``, ``ap``, ``count_error``
        (segmentation) or ``auc``, ``binormal_auc``
        (classification): ``<metric>``, ``_se``, ``_ci_low``, ``_ci_high``, ``_df``,
        ``_training_sd``, ``_se_test`` (segmentation also ``_n``, the images used). Replicate rows
        hold that training's test-set figures (``_df``, ``_training_sd``, ``_se_test`` missing);
        summary rows the combined ones.

    Raises
    ------
    InputDataError
        The units fail :func:`~stainworth.evaluation.units.check_units`, none is of the capacity
        sweep, an (architecture, modality, replicate) has more than one sweep unit, the trainings
        of one (architecture, modality) are scored on different test items, or a classification
        unit's labels or scores are unusable for ROC analysis.
    """
    check_units(units)
    sweep = [unit for unit in units if unit.train_size is None]
    if not sweep:
        raise InputDataError(f"capacity sweep: found no unit with train_size None among {len(units)} units; "
                             "expected the units trained on the full training split")
    groups: dict[tuple[str, str], dict[int, UnitScores]] = {}
    for unit in sweep:
        group = groups.setdefault((unit.architecture, unit.modality), {})
        first = group.setdefault(unit.replicate, unit)
        if first is not unit:
            raise InputDataError(f"capacity sweep: {first.describe()} and {unit.describe()} are both "
                                 f"{unit.architecture}/{unit.modality} replicate {unit.replicate}; expected one unit "
                                 "per architecture, modality and replicate")
    rows = []
    for group in groups.values():
        ordered = [group[replicate] for replicate in sorted(group)]
        replicate_rows = [unit_summary(unit, n_boot=n_boot, confidence=confidence, seed=seed) for unit in ordered]
        rows += [_combined_row(ordered, replicate_rows, confidence), *replicate_rows]
    table = pd.DataFrame(rows).drop(columns=["train_size", "subset"])
    table = table.astype({"replicate": "Int64", "replicates": "Int64"})
    leading = [c for c in ("task", "architecture", "modality", "replicate", "capacity", "n", "n_pos", "n_neg")
               if c in table.columns]
    trailing = ["binormal_degenerate", "binormal_note"] if "binormal_note" in table.columns else []
    table["network_source"] = table["architecture"].map(network_source)
    trailing += ["network_source", "replicates", "note", "run"]
    return sort_rows(table[leading + [c for c in table.columns if c not in leading + trailing] + trailing])


def _unit_metrics(unit: UnitScores) -> dict[str, Any]:
    """Test-set metrics of one learnable-capacity training (its spread enters ``_std``)."""
    if unit.task == "segmentation":
        return {metric: float(np.nanmean(unit.scores[metric].to_numpy(dtype=np.float64)))
                if unit.scores[metric].notna().any() else float("nan") for metric in metrics_of([unit])}
    summary = _classification_summary(unit, 0.95)
    return {"auc": summary["auc"], "binormal_auc": summary["binormal_auc"],
            "binormal_degenerate": summary["binormal_degenerate"]}


def _learnable_row(group: list[UnitScores], confidence: float) -> dict[str, Any]:
    group = sorted(group, key=lambda unit: (unit.subset, unit.replicate))
    first = group[0]
    per_unit = pd.DataFrame([_unit_metrics(unit) for unit in group])
    subsets = [unit.subset for unit in group]
    per_subset = pd.Series(subsets).value_counts()
    row: dict[str, Any] = {"task": first.task, "architecture": first.architecture, "train_size": first.train_size,
                           "modality": first.modality, "capacity": first.capacity, "n_subsets": len(per_subset),
                           "replicates": int(per_subset.min())}
    notes = []
    for metric in metrics_of(group):
        try:
            statistics = unit_statistics(group, metric)
        except InputDataError as error:
            raise InputDataError(f"learnable sweep, {first.architecture}/{first.modality}/{first.train_size}: "
                                 f"{error}") from None
        result = combine(statistics, clusters=subsets if len(per_subset) > 1 else None, confidence=confidence)
        values = per_unit[metric]
        row |= {f"{metric}_mean": result.estimate if result is not None else float(values.mean()),
                f"{metric}_std": float(values.std(ddof=1)) if values.count() > 1 else float("nan"),
                f"{metric}_se": result.se if result is not None else float("nan"),
                f"{metric}_ci_low": result.ci_low if result is not None else float("nan"),
                f"{metric}_ci_high": result.ci_high if result is not None else float("nan"),
                f"{metric}_df": result.df if result is not None else float("nan")}
        notes += [statistics.note, result.note if result is not None else ""]
    if first.task == "classification":
        row["n_binormal_degenerate"] = int(per_unit["binormal_degenerate"].sum())
    return row | {"note": _notes(*notes), "runs": ";".join(unit.run for unit in group)}


def learnable_table(units: Sequence[UnitScores], *, confidence: float = 0.95) -> pd.DataFrame:
    """Combined performance and spread over trainings of every (architecture, train_size, modality).

    Parameters
    ----------
    units : sequence of UnitScores
        Units of one task; those with a ``train_size`` form the learnable-capacity sweep (training
        subsets x replicates), the others are ignored.
    confidence : float, optional
        Coverage of the combined intervals (default 0.95).

    Returns
    -------
    pandas.DataFrame
        One row per (architecture, train_size, modality): ``task``, ``architecture``,
        ``train_size``, ``modality``, ``capacity``, ``n_subsets``, ``replicates`` (the fewest
        trainings of any subset), then for each metric (segmentation ``precision``, ``recall``,
        ``dice`` and, where scored, ``ap50``, ``ap``, ``count_error``; classification ``auc``,
        ``binormal_auc``) ``<metric>_mean`` (combined estimate:
        the mean of the subsets' means over their replicates), ``<metric>_std`` (standard deviation
        of the test-set metric over all trainings of the cell, ddof 1; NaN for one training),
        ``<metric>_se``, ``_ci_low``, ``_ci_high``, ``_df`` (combined over trainings and test-set
        sampling, subsets as clusters); classification adds ``n_binormal_degenerate``; then
        ``note`` and ``runs`` (in subset, replicate order, joined by ``;``).

    Raises
    ------
    InputDataError
        The units fail :func:`~stainworth.evaluation.units.check_units`, none has a training size,
        the trainings of a cell are scored on different test items, or a classification unit's
        labels or scores are unusable for ROC analysis.
    """
    check_units(units)
    groups: dict[tuple[str, int, str], list[UnitScores]] = {}
    for unit in units:
        if unit.train_size is not None:
            groups.setdefault((unit.architecture, unit.train_size, unit.modality), []).append(unit)
    if not groups:
        raise InputDataError(f"learnable-capacity sweep: found no unit with a train_size among {len(units)} units; "
                             "expected units trained on subsets of the training split")
    table = pd.DataFrame([_learnable_row(group, confidence) for group in groups.values()])
    return sort_rows(table, ["train_size"])
