"""The ``evaluate`` and ``stain_report`` tables as shown in the report: every number with its uncertainty and its unit.

Each function takes a table as its stage wrote it and returns a table of display strings: an
estimate with its 95% interval as ``0.812 [0.750, 0.870]``, a mean over training subsets with
its standard deviation as ``0.812 ± 0.020``, counts with thousands separators, modalities by
their legend names, and the unit (run) each row came from. The full-precision CSV files are
kept beside the report.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from stainworth.report.inputs import METRIC_COLUMNS
from stainworth.report.labels import (
    MISSING,
    STAINER_NAMES,
    count,
    is_missing,
    modality_name,
    modality_order,
    number,
    with_interval,
    with_spread,
)

METRIC_TITLES = {"precision": "precision", "recall": "recall", "dice": "Dice", "auc": "AUC (empirical)",
                 "binormal_auc": "AUC (binormal)"}
QUALITY_METRICS = {"ssim": "SSIM", "psnr": "PSNR (dB)", "pearson": "Pearson", "pearson_nucleus": "Pearson in nuclei",
                   "mse": "MSE", "nrmse": "NRMSE"}
"""Image-quality metrics of ``stain_report``, in the order shown."""
QUALITY_ORDER = ("efficientunet", "pix2pixhd", "identity", "linear")


def _rows(table: pd.DataFrame, build: Any) -> pd.DataFrame:
    return pd.DataFrame([build(row) for _, row in table.iterrows()])


def _size(value: Any) -> str:
    return "all" if is_missing(value) else count(value)


def capacity_display(table: pd.DataFrame, task: str) -> pd.DataFrame:
    """The capacity table: one row per (architecture, modality), each metric with its 95% interval.

    Parameters
    ----------
    table : pandas.DataFrame
        ``capacity.csv``.
    task : {"segmentation", "classification"}
        Which task's columns to show.

    Returns
    -------
    pandas.DataFrame
        Display strings.
    """
    def build(row: pd.Series) -> dict[str, str]:
        shown = {"architecture": str(row["architecture"]), "parameters": count(row["capacity"]),
                 "modality": modality_name(str(row["modality"]))}
        for metric in METRIC_COLUMNS[task]:
            shown[f"{METRIC_TITLES[metric]} [95% CI]"] = with_interval(row[metric], row[f"{metric}_ci_low"],
                                                                      row[f"{metric}_ci_high"])
        if task == "classification":
            shown["control / treated"] = f"{count(row.get('n_neg'))} / {count(row.get('n_pos'))}"
            note = row.get("binormal_note")
            shown["binormal fit"] = "" if is_missing(note) else str(note)
        else:
            shown["test images"] = count(row.get("n"))
        return shown | {"unit": str(row["run"])}

    return _rows(table, build)


def learnable_display(table: pd.DataFrame, task: str) -> pd.DataFrame:
    """The learnable-capacity table: each metric as mean ± SD over the training subsets."""
    def build(row: pd.Series) -> dict[str, str]:
        shown = {"architecture": str(row["architecture"]), "training images": count(row["train_size"]),
                 "modality": modality_name(str(row["modality"]))}
        for metric in METRIC_COLUMNS[task]:
            shown[f"{METRIC_TITLES[metric]} mean ± SD"] = with_spread(row[f"{metric}_mean"], row[f"{metric}_std"])
        if "n_binormal_degenerate" in row:
            shown["degenerate binormal fits"] = count(row["n_binormal_degenerate"])
        return shown | {"subsets": count(row["n_subsets"]), "units": str(row["runs"]).replace(";", "; ")}

    return _rows(table, build)


def comparisons_display(table: pd.DataFrame) -> pd.DataFrame:
    """The paired comparisons: modality minus reference on the same test items, interval and p-value."""
    def build(row: pd.Series) -> dict[str, str]:
        return {"architecture": str(row["architecture"]), "training images": _size(row["train_size"]),
                "subset": count(row["subset"]), "modality": modality_name(str(row["modality"])),
                "metric": METRIC_TITLES.get(str(row["metric"]), str(row["metric"])), "value": number(row["value"]),
                f"{modality_name(str(row['reference']))} value": number(row["reference_value"]),
                "difference [95% CI]": with_interval(row["difference"], row["ci_low"], row["ci_high"]),
                "p": number(row["p_value"]), "test": str(row["test"]), "pairs": count(row["n"]),
                "unit": str(row["run"]), "reference unit": str(row["reference_run"])}

    return _rows(table, build)


def embeddings_display(table: pd.DataFrame) -> pd.DataFrame:
    """Cosine distances between the class embeddings with their 95% bootstrap intervals."""
    def build(row: pd.Series) -> dict[str, str]:
        return {"capacity level": str(row["level"]), "architecture": str(row["architecture"]),
                "parameters": count(row["capacity"]), "modality": modality_name(str(row["modality"])),
                "cosine distance [95% CI]": with_interval(row["cosine_distance"], row["ci_low"], row["ci_high"]),
                "control / treated": f"{count(row['n_control'])} / {count(row['n_treated'])}",
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


def units_display(table: pd.DataFrame) -> pd.DataFrame:
    """How each unit was trained: items, epochs, early stopping, initial weights."""
    def build(row: pd.Series) -> dict[str, str]:
        return {"unit": str(row["run"]), "parameters": count(row["capacity"]),
                "training images": count(row["train_items"]), "epochs run": count(row["epochs_run"]),
                "best epoch": count(row.get("best_epoch")), "stopped early": "yes" if _true(row["stopped_early"])
                else "no", "initial weights": str(row["weights"])}

    return _rows(table, build)


def _true(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes")


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
    methods = [m for m in QUALITY_ORDER if m in set(summary["method"])]
    methods += sorted(set(map(str, summary["method"])) - set(QUALITY_ORDER))
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
    """``metric`` with its 95% interval, one row per architecture (by capacity), one column per modality.

    Parameters
    ----------
    capacity : pandas.DataFrame
        ``capacity.csv`` of one task.
    metric : str
        ``dice`` or ``auc`` (the verdict's metric) or any other metric column of the table.

    Returns
    -------
    pandas.DataFrame
        Display strings; the first column names the architecture and its parameter count.
    """
    capacities = capacity.groupby("architecture")["capacity"].min().sort_values()
    modalities = modality_order(capacity["modality"])
    rows = []
    for architecture, parameters in capacities.items():
        own = capacity[capacity["architecture"] == architecture].set_index("modality")
        row = {"network (parameters)": f"{architecture} ({count(parameters)})"}
        for modality in modalities:
            if modality not in own.index:
                row[modality_name(modality)] = MISSING
                continue
            values = own.loc[modality]
            row[modality_name(modality)] = with_interval(values[metric], values[f"{metric}_ci_low"],
                                                         values[f"{metric}_ci_high"])
        rows.append(row)
    return pd.DataFrame(rows)
