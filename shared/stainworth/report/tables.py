"""The ``evaluate`` and ``stain_report`` tables as shown in the report: every number with its uncertainty and its unit.

Each function takes a table as its stage wrote it and returns a table of display strings: an
estimate with its 95% interval as ``0.812 [0.750, 0.870]``, a mean over trainings with its
standard deviation as ``0.812 ± 0.020``, counts with thousands separators, modalities by their
legend names, and the unit (run) each row came from. Every network is trained several times
(replicates): the capacity and headline tables show the figures combined over the replicates,
whose 95% intervals cover both test-set sampling and retraining (the replicate rows, each with
its test-set interval, have a table of their own); the comparisons show the combined paired
difference with its p-value, its Holm-adjusted p-value and the multiplicity family. The
full-precision CSV files are kept beside the report.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from stainworth.contracts.task import VERDICT_METRIC
from stainworth.report.endings import ENDING_WORDS
from stainworth.report.inputs import replicate_rows, shown_metrics, summary_rows
from stainworth.report.labels import (
    MISSING,
    STAINER_NAMES,
    count,
    degrees,
    interval,
    is_missing,
    modality_name,
    modality_order,
    network_label,
    number,
    with_interval,
    with_spread,
)

METRIC_TITLES = {"precision": "precision", "recall": "recall", "dice": "Dice", "ap50": "AP@0.5",
                 "ap": "AP@[0.5:0.95]", "count_error": "count error (predicted − true)", "auc": "AUC (empirical)",
                 "binormal_auc": "AUC (binormal)"}
QUALITY_METRICS = {"ssim": "SSIM", "psnr": "PSNR (dB)", "pearson": "Pearson", "pearson_nucleus": "Pearson in nuclei",
                   "mse": "MSE", "nrmse": "NRMSE", "frc_um": "FRC resolution (µm)"}
"""Image-quality metrics of ``stain_report``, in the order shown."""
QUALITY_ORDER = ("efficientunet", "pix2pixhd", "identity", "linear")
"""The study's stainers and the baselines in the order shown; external stainers come between them, by name."""


def quality_methods(summary: pd.DataFrame) -> list[str]:
    """The methods of a quality table in display order: the study's stainers, external ones, the baselines."""
    present = set(map(str, summary["method"]))
    external = sorted(present - set(QUALITY_ORDER))
    return [m for m in QUALITY_ORDER[:2] if m in present] + external + [m for m in QUALITY_ORDER[2:] if m in present]


DISTANCE_NAMES = {"frechet": "Fréchet", "kernel": "Kernel"}


def feature_distance_display(distances: pd.DataFrame) -> pd.DataFrame:
    """One row per method: each distance with its interval, and the nuclei it is over."""
    rows = []
    for method in quality_methods(distances):
        own = distances[distances["method"] == method].set_index("distance")
        row = {"method": STAINER_NAMES.get(method, method)}
        for name in ("frechet", "kernel"):
            row[f"{DISTANCE_NAMES[name]} distance"] = (
                f"{own.at[name, 'estimate']:.3f} [{own.at[name, 'ci_low']:.3f}, {own.at[name, 'ci_high']:.3f}]"
                if name in own.index else MISSING)
        row["nuclei"] = count(own["n"].max()) if not own.empty else MISSING
        rows.append(row)
    return pd.DataFrame(rows)


CLASS_METRICS = ("ssim", "pearson", "pearson_nucleus", "frc_um")
"""Metrics the per-class quality table shows."""


def quality_by_class_display(by_class: pd.DataFrame) -> pd.DataFrame:
    """One row per method, one column per (metric, class): the mean ± SD over that class's test images."""
    rows = []
    classes = list(dict.fromkeys(map(str, by_class["class"])))
    for method in quality_methods(by_class):
        own = by_class[by_class["method"] == method]
        row = {"method": STAINER_NAMES.get(method, method)}
        for metric in CLASS_METRICS:
            for name in classes:
                found = own[(own["metric"] == metric) & (own["class"] == name)]
                row[f"{QUALITY_METRICS[metric]}, {name}"] = (
                    with_spread(found["mean"].iloc[0], found["std"].iloc[0]) if not found.empty else MISSING)
        rows.append(row)
    return pd.DataFrame(rows)


def _rows(table: pd.DataFrame, build: Any) -> pd.DataFrame:
    return pd.DataFrame([build(row) for _, row in table.iterrows()])


def _size(value: Any) -> str:
    return "all" if is_missing(value) else count(value)


def _runs(value: Any) -> str:
    return MISSING if is_missing(value) else str(value).replace(";", "; ")


def _note(value: Any) -> str:
    return "" if is_missing(value) else str(value)


def replicates_phrase(table: pd.DataFrame) -> str:
    """How many trainings the summary rows of ``capacity.csv`` combine, in words.

    Returns
    -------
    str
        ``combined over 3 replicates``, ``combined over 2 to 3 replicates``, or for one training
        per network ``one training each: intervals cover test-set sampling only``.
    """
    counts = sorted({int(n) for n in summary_rows(table)["replicates"] if not is_missing(n)})
    if not counts:
        return "replicates not recorded"
    if counts == [1]:
        return "one training each: intervals cover test-set sampling only"
    shown = str(counts[0]) if len(counts) == 1 else f"{counts[0]} to {counts[-1]}"
    return f"combined over {shown} replicates"


def learnable_phrase(table: pd.DataFrame) -> str:
    """How many trainings the rows of ``learnable.csv`` combine, in words.

    Returns
    -------
    str
        E.g. ``combined over 3 training subsets × 3 replicates``.
    """
    subsets = [int(n) for n in table["n_subsets"] if not is_missing(n)]
    replicates = [int(n) for n in table["replicates"] if not is_missing(n)]
    if not subsets or not replicates:
        return "trainings not recorded"
    low, high = min(replicates), max(replicates)
    shown = str(low) if low == high else f"{low} to {high}"
    return (f"combined over {max(subsets)} training subset{'s' * (max(subsets) != 1)} × {shown} "
            f"replicate{'s' * (high != 1)}")


def capacity_display(table: pd.DataFrame, task: str) -> pd.DataFrame:
    """The capacity table's summary rows: each metric combined over replicates with its 95% interval.

    Parameters
    ----------
    table : pandas.DataFrame
        ``capacity.csv`` (summary and replicate rows; the replicate rows are left out here, see
        :func:`capacity_replicates_display`).
    task : {"segmentation", "classification"}
        Which task's columns to show.

    Returns
    -------
    pandas.DataFrame
        Display strings, one row per (architecture, modality): the combined estimate with the
        interval that covers test-set sampling and retraining, the trainings combined, the note
        and the units.
    """
    metrics = shown_metrics(table, task)

    def build(row: pd.Series) -> dict[str, str]:
        shown = {"architecture": network_label(row["architecture"]), "parameters": count(row["capacity"]),
                 "modality": modality_name(str(row["modality"]))}
        for metric in metrics:
            shown[f"{METRIC_TITLES[metric]} [95% CI]"] = with_interval(row[metric], row[f"{metric}_ci_low"],
                                                                      row[f"{metric}_ci_high"])
        shown["trainings"] = count(row["replicates"])
        shown |= _test_items(row, task)
        return shown | {"note": _note(row["note"]), "units": _runs(row["run"])}

    return _rows(summary_rows(table), build)


def _test_items(row: pd.Series, task: str) -> dict[str, str]:
    if task == "classification":
        note = row.get("binormal_note")
        return {"control / treated": f"{count(row.get('n_neg'))} / {count(row.get('n_pos'))}",
                "binormal fit": "" if is_missing(note) else str(note)}
    return {"test images": count(row.get("n"))}


def capacity_replicates_display(table: pd.DataFrame, task: str) -> pd.DataFrame:
    """The capacity table's replicate rows: each training's metrics with their test-set 95% intervals."""
    metrics = shown_metrics(table, task)

    def build(row: pd.Series) -> dict[str, str]:
        shown = {"architecture": network_label(row["architecture"]), "modality": modality_name(str(row["modality"])),
                 "replicate": count(row["replicate"])}
        for metric in metrics:
            shown[f"{METRIC_TITLES[metric]} [95% CI, test set]"] = with_interval(
                row[metric], row[f"{metric}_ci_low"], row[f"{metric}_ci_high"])
        return shown | _test_items(row, task) | {"unit": str(row["run"])}

    return _rows(replicate_rows(table), build)


def learnable_display(table: pd.DataFrame, task: str) -> pd.DataFrame:
    """The learnable-capacity table: each metric as mean ± SD over all trainings and its combined 95% interval."""
    metrics = shown_metrics(table, task, "_mean")

    def build(row: pd.Series) -> dict[str, str]:
        shown = {"architecture": network_label(row["architecture"]), "training images": count(row["train_size"]),
                 "modality": modality_name(str(row["modality"]))}
        for metric in metrics:
            shown[f"{METRIC_TITLES[metric]} mean ± SD"] = with_spread(row[f"{metric}_mean"], row[f"{metric}_std"])
            shown[f"{METRIC_TITLES[metric]} 95% CI"] = interval(row[f"{metric}_ci_low"], row[f"{metric}_ci_high"])
        if "n_binormal_degenerate" in row:
            shown["degenerate binormal fits"] = count(row["n_binormal_degenerate"])
        return shown | {"subsets": count(row["n_subsets"]), "replicates per subset": count(row["replicates"]),
                        "note": _note(row["note"]), "units": _runs(row["runs"])}

    return _rows(table, build)


def comparisons_display(table: pd.DataFrame) -> pd.DataFrame:
    """The combined paired comparisons: modality minus reference, 95% interval, p, Holm-adjusted p, family."""
    def build(row: pd.Series) -> dict[str, str]:
        return {"architecture": network_label(row["architecture"]), "training images": _size(row["train_size"]),
                "modality": modality_name(str(row["modality"])),
                "metric": METRIC_TITLES.get(str(row["metric"]), str(row["metric"])), "value": number(row["value"]),
                f"{modality_name(str(row['reference']))} value": number(row["reference_value"]),
                "difference [95% CI]": with_interval(row["difference"], row["ci_low"], row["ci_high"]),
                "df": degrees(row["df"]), "p": number(row["p_value"]), "Holm-adjusted p": number(row["p_adjusted"]),
                "family": str(row["family"]), "trainings paired": count(row["replicates"]),
                "test": str(row["test"]), "test items": count(row["n"]), "note": _note(row["note"]),
                "units": _runs(row["runs"])}

    return _rows(table, build)


def embeddings_display(table: pd.DataFrame) -> pd.DataFrame:
    """Cosine distances between the class embeddings with their 95% bootstrap intervals."""
    def build(row: pd.Series) -> dict[str, str]:
        return {"capacity level": str(row["level"]), "architecture": network_label(row["architecture"]),
                "parameters": count(row["capacity"]), "modality": modality_name(str(row["modality"])),
                "cosine distance [95% CI]": with_interval(row["cosine_distance"], row["ci_low"], row["ci_high"]),
                "control / treated": f"{count(row['n_control'])} / {count(row['n_treated'])}",
                "unit": str(row["run"])}

    return _rows(table, build)


def embedding_distances_display(table: pd.DataFrame) -> pd.DataFrame:
    """Distances of each stain and the identity baseline to the real fluorescence, in the fluorescence networks."""
    def build(row: pd.Series) -> dict[str, str]:
        compared = str(row["compared"])
        return {"capacity level": str(row["level"]), "network trained on fluorescence": network_label(
                    row["architecture"]), "parameters": count(row["capacity"]),
                "compared with the real fluorescence": modality_name(compared) if compared.startswith("virtual_")
                else compared, "distance": "Fréchet" if row["distance"] == "frechet" else "kernel",
                "estimate [95% CI]": with_interval(row["estimate"], row["ci_low"], row["ci_high"]),
                "test nuclei": count(row["n"]), "principal components": count(row["dimensions"]),
                "unit": str(row["run"])}

    return _rows(table, build)


def hotelling_display(table: pd.DataFrame) -> pd.DataFrame:
    """The channelized Hotelling observer's AUC per modality (a linear, capacity-free reference)."""
    def build(row: pd.Series) -> dict[str, str]:
        return {"modality": modality_name(str(row["modality"])),
                "AUC [95% CI]": with_interval(row["auc"], row["ci_low"], row["ci_high"]), "SE": number(row["se"]),
                "channels": count(row["channels"]), "channel width (px)": number(row.get("width_px")),
                "training SNR": number(row.get("training_snr"))}

    return _rows(table, build)


def units_display(table: pd.DataFrame, task: str) -> pd.DataFrame:
    """How each training went: items, replicate, epochs, how it ended, seed, test metric, initial weights."""
    metric = VERDICT_METRIC[task]

    def build(row: pd.Series) -> dict[str, str]:
        return {"unit": str(row["run"]), "parameters": count(row["capacity"]),
                "training images": count(row["train_items"]), "subset": count(row["subset"]),
                "replicate": count(row["replicate"]), "epochs run": count(row["epochs_run"]),
                "best epoch": count(row.get("best_epoch")), "ended": ENDING_WORDS.get(str(row["ended"]),
                                                                                       str(row["ended"])),
                "attempts": count(row["attempts"]), "still degenerate": _note(row["degenerate"]),
                "initialisation seed": count(row["init_seed"]).replace(",", ""),
                f"test {METRIC_TITLES[metric]}": number(row[f"test_{metric}"]), "initial weights": str(row["weights"])}

    return _rows(table, build)


def quality_display(summary: pd.DataFrame) -> pd.DataFrame:
    """Image quality of each stainer and baseline against the real fluorescence: mean ± SD per metric.

    Parameters
    ----------
    summary : pandas.DataFrame
        ``quality_summary.csv`` of ``stain_report`` (``method``, ``metric``, ``mean``, ``std``, ``n``).

    Returns
    -------
    pandas.DataFrame
        One row per method (stainers first, then the baselines), one column per metric.
    """
    methods = quality_methods(summary)
    metrics = [m for m in QUALITY_METRICS if m in set(summary["metric"])]
    rows = []
    for method in methods:
        own = summary[summary["method"] == method].set_index("metric")
        row = {"method": STAINER_NAMES.get(method, method)}
        for metric in metrics:
            row[QUALITY_METRICS[metric]] = (with_spread(own.at[metric, "mean"], own.at[metric, "std"])
                                            if metric in own.index else MISSING)
        row["test images"] = count(own["n"].max()) if not own.empty else MISSING
        rows.append(row)
    return pd.DataFrame(rows)


def headline_table(capacity: pd.DataFrame, metric: str) -> pd.DataFrame:
    """``metric`` combined over replicates with its 95% interval, one row per architecture, one column per modality.

    Parameters
    ----------
    capacity : pandas.DataFrame
        ``capacity.csv`` of one task (its summary rows are shown; see :func:`replicates_phrase`).
    metric : str
        ``dice`` or ``auc`` (the verdict's metric) or any other metric column of the table.

    Returns
    -------
    pandas.DataFrame
        Display strings; the first column names the architecture and its parameter count.
        ``attrs["combined"]`` says how many trainings each cell combines (:func:`replicates_phrase`).
    """
    combined = summary_rows(capacity)
    capacities = combined.groupby("architecture")["capacity"].min().sort_values()
    modalities = modality_order(combined["modality"])
    rows = []
    for architecture, parameters in capacities.items():
        own = combined[combined["architecture"] == architecture].set_index("modality")
        row = {"network (parameters)": f"{network_label(architecture)} ({count(parameters)})"}
        for modality in modalities:
            if modality not in own.index:
                row[modality_name(modality)] = MISSING
                continue
            values = own.loc[modality]
            row[modality_name(modality)] = with_interval(values[metric], values[f"{metric}_ci_low"],
                                                         values[f"{metric}_ci_high"])
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame.attrs["combined"] = replicates_phrase(capacity)
    return frame
