"""Paired comparisons of each modality with a reference modality on the same test images.

Differences are always *modality minus reference*: a positive difference means the modality
scores higher than the reference (label-free by default).

:func:`paired_comparisons` gives the combined comparison, one row per (architecture, train_size,
modality, metric): replicate r of the modality is paired with replicate r of the reference (same
training subset), each pair gives a difference ``d_r`` on the same test items, and the ``d_r`` are
combined over all trainings (replicates, and training subsets as clusters in the learnable sweep)
with :func:`stainworth.metrics.replicates.combine_replicates`. The test-sampling covariance of the
``d_r`` comes from DeLong's covariance of all the score sets for AUCs, and from the covariance of
the per-image differences for mean scores (Dice ...), so the interval and the p-value cover both
retraining and test-set sampling. The p-values are Holm-adjusted (``p_adjusted``) within a family:
one modality's comparisons along one sweep axis for one metric (``family``, e.g.
``"virtual_effunet auc capacity"``: the architectures of the capacity sweep; ``"... train_size"``:
the training sizes of the learnable sweep).

A pair in which either training is still degenerate after its last attempt (a constant output,
a validation loss never below the trivial one: :mod:`stainworth.tasks.degenerate`, decided on
validation data only) is left out of the combined row and counted in ``degenerate_excluded``.
Such a training measures a failed optimisation, not the modality; the trainer already retrains a
degenerate attempt with a fresh seed, so the combined rows estimate the difference between
*successfully trained* networks, the ones a user would keep. When every pair of a row is left out,
its statistics are NaN and its ``note`` says so: the verdict then cannot decide at that step.

:func:`replicate_comparisons` gives the per-training rows behind them (one per architecture,
train_size, subset, replicate, modality, metric): DeLong's paired test of the empirical AUCs
(:func:`stainworth.metrics.delong_test`, with a permutation p-value when DeLong's se is 0) and the
paired BCa bootstrap of the mean per-image score (:func:`stainworth.metrics.paired_bootstrap`,
with ``se`` the standard deviation of the per-image differences over sqrt(n)). These intervals
cover test-set sampling only and are not adjusted for multiplicity: read the combined rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from stainworth.contracts.task import MODALITIES, is_modality
from stainworth.errors import ConfigError, InputDataError
from stainworth.evaluation.tables import SEGMENTATION_METRICS, UnitStatistics, sort_rows, unit_statistics
from stainworth.evaluation.units import UnitScores, check_units, group_by_pair, modality_rank
from stainworth.metrics import delong_test, paired_bootstrap
from stainworth.metrics.replicates import combine_replicates, holm

COLUMNS = ("task", "architecture", "train_size", "capacity", "modality", "reference", "metric", "value",
           "reference_value", "difference", "se", "ci_low", "ci_high", "df", "p_value", "p_adjusted", "family", "test",
           "n", "replicates", "training_sd", "se_test", "note", "degenerate_excluded", "runs")
"""Columns of :func:`paired_comparisons`, in order."""
REPLICATE_COLUMNS = ("task", "architecture", "train_size", "subset", "replicate", "capacity", "modality", "reference",
                     "metric", "value", "reference_value", "difference", "se", "ci_low", "ci_high", "p_value", "test",
                     "n", "note", "run", "reference_run")
"""Columns of :func:`replicate_comparisons`, in order."""


def _check_options(units: Sequence[UnitScores], reference: str, metrics: Sequence[str]) -> None:
    if not is_modality(reference):
        raise ConfigError(f"reference: found {reference!r}; expected one of {', '.join(MODALITIES)} "
                          "or virtual_<stainer>")
    if not any(unit.modality == reference for unit in units):
        raise InputDataError(f"reference modality {reference}: found in none of the {len(units)} units; expected "
                             "units of the reference modality to compare with")
    unknown = [metric for metric in metrics if metric not in SEGMENTATION_METRICS]
    if unknown or not metrics:
        raise ConfigError(f"metrics: found {list(metrics)}; expected one or more of {', '.join(SEGMENTATION_METRICS)}")


def paired_differences(units: Sequence[UnitScores], references: Sequence[UnitScores], metric: str) -> UnitStatistics:
    """Per-pair differences ``units[j] - references[j]`` of a metric and their test-sampling covariance.

    Parameters
    ----------
    units, references : sequence of UnitScores
        Paired trainings (e.g. replicate r of a stain and replicate r of label-free), all tested on
        the same test items.
    metric : str
        ``auc`` or a segmentation score (see :func:`~stainworth.evaluation.tables.unit_statistics`).

    Returns
    -------
    UnitStatistics
        (P,) differences and their (P, P) covariance ``L S Lᵀ`` with ``L = [I, -I]`` and ``S`` the
        covariance of the 2P statistics.
    """
    return _differences(unit_statistics([*units, *references], metric), len(units))


def _differences(both: UnitStatistics, size: int) -> UnitStatistics:
    """The first ``size`` statistics minus the last ``size``, with the covariance of the differences."""
    contrast = np.hstack([np.eye(size), -np.eye(size)])
    return UnitStatistics(contrast @ both.values, contrast @ both.covariance @ contrast.T, both.n, both.note)


def _pairs(units: Sequence[UnitScores], reference: str
           ) -> dict[tuple[str, int | None, str], list[tuple[UnitScores, UnitScores]]]:
    """``{(architecture, train_size, modality): [(unit, reference unit), ...]}`` in (subset, replicate) order."""
    pairs: dict[tuple[str, int | None, str], list[tuple[UnitScores, UnitScores]]] = {}
    for _, group in sorted(group_by_pair(units).items(), key=lambda item: (item[0][2], item[0][3])):
        base = group.get(reference)
        if base is None:
            continue
        for modality in sorted(set(group) - {reference}, key=modality_rank):
            pairs.setdefault((base.architecture, base.train_size, modality), []).append((group[modality], base))
    return pairs


def _failed_row(pairs: list[tuple[UnitScores, UnitScores]], metric: str) -> dict[str, Any]:
    """A combined row with no usable pair: every statistic NaN, the reason in the note."""
    nan = float("nan")
    n = len(pairs[0][1].scores)
    return {"metric": metric, "value": nan, "reference_value": nan, "difference": nan, "se": nan, "ci_low": nan,
            "ci_high": nan, "df": nan, "p_value": nan, "test": "none", "n": n, "replicates": 0, "training_sd": nan,
            "se_test": nan, "note": f"{_excluded_words(len(pairs), len(pairs))}: no comparison",
            "degenerate_excluded": len(pairs),
            "runs": ";".join(f"{unit.run} vs {reference.run}" for unit, reference in pairs)}


def _excluded_words(excluded: int, total: int) -> str:
    return (f"{excluded} of {total} paired training{'s' * (total != 1)} left out: still degenerate after the last "
            "attempt")


def _combined_row(all_pairs: list[tuple[UnitScores, UnitScores]], metric: str, confidence: float) -> dict[str, Any]:
    pairs = [(unit, reference) for unit, reference in all_pairs if not (unit.degenerate or reference.degenerate)]
    excluded = len(all_pairs) - len(pairs)
    if not pairs:
        return _failed_row(all_pairs, metric)
    units, references = [pair[0] for pair in pairs], [pair[1] for pair in pairs]
    try:
        both = unit_statistics([*units, *references], metric)
    except InputDataError as error:
        raise InputDataError(f"{units[0].describe()} vs {references[0].describe()}, {metric}: {error}") from None
    differences = _differences(both, len(pairs))
    subsets = [unit.subset for unit in units]
    clusters = subsets if len(set(subsets)) > 1 else None
    difference = combine_replicates(differences.values, differences.covariance, clusters=clusters,
                                    confidence=confidence)
    value = _cluster_mean(both.values[:len(pairs)], clusters)
    covariance = "DeLong" if metric == "auc" else "per-image"
    test = (f"Obuchowski-Rockette-Hillis ({covariance} covariance)" if difference.clusters > 1
            else f"{covariance} {'test' if metric == 'auc' else 'mean'}, test set only")
    return {"metric": metric, "value": value, "reference_value": value - difference.estimate,
            "difference": difference.estimate, "se": difference.se, "ci_low": difference.ci_low,
            "ci_high": difference.ci_high, "df": difference.df, "p_value": difference.p_value, "test": test,
            "n": both.n, "replicates": difference.replicates, "training_sd": difference.training_sd,
            "se_test": difference.se_test,
            "note": _join(both.note, difference.note, _excluded_words(excluded, len(all_pairs)) if excluded else ""),
            "degenerate_excluded": excluded,
            "runs": ";".join(f"{unit.run} vs {reference.run}" for unit, reference in pairs)}


def _cluster_mean(values: np.ndarray, clusters: list[int] | None) -> float:
    if clusters is None:
        return float(values.mean())
    frame = pd.DataFrame({"value": values, "cluster": clusters})
    return float(frame.groupby("cluster", sort=False)["value"].mean().mean())


def _join(*notes: str) -> str:
    return "; ".join(note for note in notes if note)


def paired_comparisons(units: Sequence[UnitScores], reference: str = "label_free", *,
                       metrics: Sequence[str] = ("dice",), confidence: float = 0.95) -> pd.DataFrame:
    """Compare every modality with the reference on the same test images, all trainings combined.

    Parameters
    ----------
    units : sequence of UnitScores
        Units of one task (both sweeps), all tested on the same test items.
    reference : str, optional
        Modality every other is compared with (default ``"label_free"``).
    metrics : sequence of str, optional
        Segmentation scores to compare (default ``("dice",)``; any of precision, recall, dice).
        Classification always compares the empirical AUC.
    confidence : float, optional
        Coverage of the intervals (default 0.95).

    Returns
    -------
    pandas.DataFrame
        One row per (architecture, train_size, modality, metric) with the columns of
        :data:`COLUMNS`: ``value`` and ``reference_value`` (the two modalities' combined
        estimates; for segmentation over the images where every paired score is defined),
        ``difference`` = value - reference_value, its combined ``se`` (NaN only when no pair is
        left, see ``degenerate_excluded``), interval,
        Satterthwaite ``df``, two-sided ``p_value`` and Holm-adjusted ``p_adjusted`` within
        ``family`` (one modality's comparisons along one sweep axis for one metric, e.g.
        ``"virtual_effunet auc capacity"`` or ``"virtual_effunet dice train_size"``), ``test``,
        ``n`` (test items), ``replicates`` (paired trainings combined: replicates, times training
        subsets in the learnable sweep), ``training_sd`` (of one training's difference),
        ``se_test`` (the test-set part of ``se``), ``note`` (e.g. one training only: test-set
        sampling only), ``degenerate_excluded`` (pairs left out because a training is still
        degenerate after its last attempt; every statistic NaN when all are) and ``runs``
        (``"<unit> vs <reference unit>"`` of the pairs combined, joined by ``;``).
        ``train_size`` is a nullable integer (missing for the capacity sweep). Trainings without a
        reference training of the same subset and replicate are skipped.

    Raises
    ------
    ConfigError
        Unknown reference modality or segmentation metric.
    InputDataError
        The units fail :func:`~stainworth.evaluation.units.check_units`, no unit has the reference
        modality, the trainings of a comparison are scored on different test items, or a pair's
        scores are unusable.
    """
    task = check_units(units)
    _check_options(units, reference, metrics)
    rows = []
    for (architecture, train_size, modality), pairs in _pairs(units, reference).items():
        keys = {"task": task, "architecture": architecture, "train_size": train_size,
                "capacity": pairs[0][0].capacity, "modality": modality, "reference": reference}
        for metric in (("auc",) if task == "classification" else metrics):
            family = f"{modality} {metric} {'capacity' if train_size is None else 'train_size'}"
            rows.append(keys | _combined_row(pairs, metric, confidence) | {"family": family})
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    if not table.empty:
        table["p_adjusted"] = table.groupby("family", sort=False)["p_value"].transform(lambda p: holm(p.to_numpy()))
    table = table.astype({"train_size": "Int64", "capacity": "int64", "n": "int64", "replicates": "int64",
                          "degenerate_excluded": "int64"})
    return sort_rows(table, ["train_size"])


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
            "p_value": result.p_value, "test": result.method, "n": result.n_pos + result.n_neg, "note": result.note}


def _bootstrap_row(unit: UnitScores, reference: UnitScores, metric: str, n_boot: int, confidence: float,
                   seed: int) -> dict[str, Any]:
    both = _aligned(unit, reference, [metric])
    a, b = both[metric].to_numpy(dtype=np.float64), both[f"{metric}_reference"].to_numpy(dtype=np.float64)
    try:
        result = paired_bootstrap(a, b, n_boot=n_boot, confidence=confidence, seed=seed)
    except InputDataError as error:
        raise InputDataError(f"{unit.describe()} vs {reference.describe()}, {metric}: {error}") from None
    kept = ~(np.isnan(a) | np.isnan(b))
    differences = a[kept] - b[kept]
    return {"metric": metric, "value": float(a[kept].mean()), "reference_value": float(b[kept].mean()),
            "difference": result.difference, "se": float(differences.std(ddof=1) / np.sqrt(differences.size)),
            "ci_low": result.ci_low, "ci_high": result.ci_high, "p_value": result.p_value,
            "test": f"paired bootstrap ({result.method})", "n": result.n_pairs, "note": ""}


def replicate_comparisons(units: Sequence[UnitScores], reference: str = "label_free", *,
                          metrics: Sequence[str] = ("dice",), n_boot: int = 2000, confidence: float = 0.95,
                          seed: int = 0) -> pd.DataFrame:
    """Compare every modality with the reference training by training (test-set sampling only).

    Parameters
    ----------
    units : sequence of UnitScores
        Units of one task (both sweeps).
    reference : str, optional
        Modality every other is compared with (default ``"label_free"``).
    metrics : sequence of str, optional
        Segmentation scores to compare (default ``("dice",)``). Classification compares the AUC.
    n_boot : int, optional
        Resamples of the segmentation bootstrap (default 2000; at least 100).
    confidence : float, optional
        Coverage of the intervals (default 0.95).
    seed : int, optional
        Seed of the bootstrap (default 0); the same seed gives the same table.

    Returns
    -------
    pandas.DataFrame
        One row per (architecture, train_size, subset, replicate, modality, metric) with the
        columns of :data:`REPLICATE_COLUMNS`: DeLong's test (``test`` names the permutation test
        used when DeLong's se is 0, ``note`` says why) or the paired BCa bootstrap (``se`` the
        standard deviation of the per-image differences over sqrt(n); p-value never 0), ``n`` the
        paired test items, both runs; ``note`` names a training still degenerate after its last
        attempt (the combined rows leave its pair out). Not adjusted for multiplicity.

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
    for (architecture, train_size, subset, replicate), group in group_by_pair(units).items():
        base = group.get(reference)
        if base is None:
            continue
        for modality in sorted(set(group) - {reference}, key=modality_rank):
            unit = group[modality]
            keys = {"task": task, "architecture": architecture, "train_size": train_size, "subset": subset,
                    "replicate": replicate, "capacity": unit.capacity, "modality": modality, "reference": reference}
            runs = {"run": unit.run, "reference_run": base.run}
            flagged = "; ".join(f"{member.modality} still degenerate: {member.degenerate}"
                                for member in (unit, base) if member.degenerate)
            made = ([_delong_row(unit, base, confidence)] if task == "classification"
                    else [_bootstrap_row(unit, base, metric, n_boot, confidence, seed) for metric in metrics])
            rows += [keys | row | {"note": _join(row["note"], flagged)} | runs for row in made]
    table = pd.DataFrame(rows, columns=list(REPLICATE_COLUMNS))
    table = table.astype({"train_size": "Int64", "subset": "int64", "replicate": "int64", "capacity": "int64",
                          "n": "int64"})
    return sort_rows(table, ["train_size", "subset", "replicate"])
