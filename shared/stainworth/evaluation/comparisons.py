"""Paired comparisons of each modality with a reference modality on the same test images.

For every (architecture, train_size, subset) and every modality other than the reference
(label-free by default) the two units are aligned on their test items and compared:

- classification: DeLong's paired test of the empirical AUCs
  (:func:`stainworth.metrics.delong_test`): difference, its standard error, Wald interval and
  two-sided p-value;
- segmentation: the paired bootstrap of the mean per-image score
  (:func:`stainworth.metrics.paired_bootstrap`, BCa interval and bootstrap p-value; images where
  either score is NaN are dropped), for Dice by default.

Differences are always *modality minus reference*: a positive difference means the modality
scores higher than the reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from stainworth.contracts.task import MODALITIES
from stainworth.errors import ConfigError, InputDataError
from stainworth.evaluation.tables import SEGMENTATION_METRICS, sort_rows
from stainworth.evaluation.units import UnitScores, check_units, group_by_pair, modality_rank
from stainworth.metrics import delong_test, paired_bootstrap

COLUMNS = ("task", "architecture", "train_size", "subset", "capacity", "modality", "reference", "metric", "value",
           "reference_value", "difference", "se", "ci_low", "ci_high", "p_value", "test", "n", "run",
           "reference_run")
"""Columns of :func:`paired_comparisons`, in order."""


def _aligned(unit: UnitScores, reference: UnitScores, columns: list[str]) -> pd.DataFrame:
    """The two units' columns side by side, one row per test item (sorted by item)."""
    left = unit.scores[["item", *columns]].set_index("item").sort_index()
    right = reference.scores[["item", *columns]].set_index("item").reindex(left.index)
    return left.join(right.add_suffix("_reference"))


def _delong_row(unit: UnitScores, reference: UnitScores, confidence: float) -> dict[str, Any]:
    both = _aligned(unit, reference, ["score"]).join(unit.scores.set_index("item")["label"])
    try:
        result = delong_test(both["score"].to_numpy(dtype=np.float64),
                             both["score_reference"].to_numpy(dtype=np.float64), both["label"].to_numpy(),
                             confidence=confidence)
    except InputDataError as error:
        raise InputDataError(f"{unit.describe()} vs {reference.describe()}: {error}") from None
    return {"metric": "auc", "value": result.auc_a, "reference_value": result.auc_b,
            "difference": result.difference, "se": result.se, "ci_low": result.ci_low, "ci_high": result.ci_high,
            "p_value": result.p_value, "test": "DeLong", "n": result.n_pos + result.n_neg}


def _bootstrap_row(unit: UnitScores, reference: UnitScores, metric: str, n_boot: int, confidence: float,
                   seed: int) -> dict[str, Any]:
    both = _aligned(unit, reference, [metric])
    a, b = both[metric].to_numpy(dtype=np.float64), both[f"{metric}_reference"].to_numpy(dtype=np.float64)
    try:
        result = paired_bootstrap(a, b, n_boot=n_boot, confidence=confidence, seed=seed)
    except InputDataError as error:
        raise InputDataError(f"{unit.describe()} vs {reference.describe()}, {metric}: {error}") from None
    kept = ~(np.isnan(a) | np.isnan(b))
    return {"metric": metric, "value": float(a[kept].mean()), "reference_value": float(b[kept].mean()),
            "difference": result.difference, "se": float("nan"), "ci_low": result.ci_low,
            "ci_high": result.ci_high, "p_value": result.p_value, "test": f"paired bootstrap ({result.method})",
            "n": result.n_pairs}


def _check_options(units: Sequence[UnitScores], reference: str, metrics: Sequence[str]) -> None:
    if reference not in MODALITIES:
        raise ConfigError(f"reference: found {reference!r}; expected one of {', '.join(MODALITIES)}")
    if not any(unit.modality == reference for unit in units):
        raise InputDataError(f"reference modality {reference}: found in none of the {len(units)} units; expected "
                             "units of the reference modality to compare with")
    unknown = [metric for metric in metrics if metric not in SEGMENTATION_METRICS]
    if unknown or not metrics:
        raise ConfigError(f"metrics: found {list(metrics)}; expected one or more of {', '.join(SEGMENTATION_METRICS)}")


def paired_comparisons(units: Sequence[UnitScores], reference: str = "label_free", *,
                       metrics: Sequence[str] = ("dice",), n_boot: int = 2000, confidence: float = 0.95,
                       seed: int = 0) -> pd.DataFrame:
    """Compare every modality with the reference on the same test images, unit pair by unit pair.

    Parameters
    ----------
    units : sequence of UnitScores
        Units of one task (both sweeps).
    reference : str, optional
        Modality every other is compared with (default ``"label_free"``).
    metrics : sequence of str, optional
        Segmentation scores to compare (default ``("dice",)``; any of precision, recall, dice).
        Classification always compares the empirical AUC.
    n_boot : int, optional
        Resamples of the segmentation bootstrap (default 2000; at least 100).
    confidence : float, optional
        Coverage of the intervals (default 0.95).
    seed : int, optional
        Seed of the bootstrap (default 0); the same seed gives the same table.

    Returns
    -------
    pandas.DataFrame
        One row per (architecture, train_size, subset, modality, metric) with the columns of
        :data:`COLUMNS`: ``value`` and ``reference_value`` are the two modalities' estimates (for
        segmentation, the means over the images where both scores are defined),
        ``difference`` = value - reference_value, ``se`` (DeLong; NaN for the bootstrap),
        ``ci_low``/``ci_high`` of the difference, ``p_value`` (two-sided), ``test``, ``n`` (the
        paired test items used) and both runs. ``train_size`` is a nullable integer (missing for the
        capacity sweep). Keys without a reference unit are skipped.

    Raises
    ------
    ConfigError
        Unknown reference modality or segmentation metric.
    InputDataError
        The units fail :func:`~stainworth.evaluation.units.check_units`, no unit has the reference
        modality, or a pair's scores are unusable by the test.
    """
    task = check_units(units)
    _check_options(units, reference, metrics)
    rows = []
    for (architecture, train_size, subset), group in group_by_pair(units).items():
        base = group.get(reference)
        if base is None:
            continue
        for modality in sorted(set(group) - {reference}, key=modality_rank):
            unit = group[modality]
            keys = {"task": task, "architecture": architecture, "train_size": train_size, "subset": subset,
                    "capacity": unit.capacity, "modality": modality, "reference": reference}
            runs = {"run": unit.run, "reference_run": base.run}
            if task == "classification":
                rows.append(keys | _delong_row(unit, base, confidence) | runs)
            else:
                rows += [keys | _bootstrap_row(unit, base, metric, n_boot, confidence, seed) | runs
                         for metric in metrics]
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    table = table.astype({"train_size": "Int64", "subset": "int64", "capacity": "int64", "n": "int64"})
    return sort_rows(table, ["train_size", "subset"])
