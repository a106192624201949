"""The study's result figures drawn from the ``evaluate`` tables (matplotlib, Agg backend).

- :func:`segmentation_capacity_figure` (the study's Fig. 3): precision, recall and Dice against the
  trainable parameters of each network (log axis, ticks named by architecture and count), one line
  per modality, error bars the 95% bootstrap interval of the mean over test images.
- :func:`segmentation_learnable_figure` (Fig. 4): the same against the training size, error bars
  one standard deviation over the random training subsets.
- :func:`classification_capacity_figure` (Fig. 9): the test AUC with its 95% interval against the
  trainable parameters, one panel per virtual stainer, each holding label-free, that stain and
  fluorescence.
- :func:`classification_learnable_figure` (Fig. 10): the mean AUC ± one standard deviation over
  subsets against the training size, one panel per virtual stainer.
- :func:`embedding_distance_figure` (Fig. 11): cosine distance between the control and treated
  class embeddings at low, medium and high capacity, grouped bars per modality with their 95%
  bootstrap interval, one panel per virtual stainer.

Every function takes the table as ``evaluate`` writes it and returns a Figure (built without
pyplot, so no global state and nothing to close; ``savefig`` renders it with Agg); a table with one
architecture or one size, a modality missing, or undefined (NaN) uncertainties still draws (an
undefined interval draws no bar), and an empty table draws a panel that says so. The drawing
helpers are in :mod:`stainworth.report.plotting`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from stainworth.contracts.task import VIRTUAL_MODALITIES
from stainworth.report import plotting
from stainworth.report.labels import modality_name, modality_order
from stainworth.report.plotting import architecture_capacities

SEGMENTATION_METRICS = ("precision", "recall", "dice")
METRIC_NAMES = {"precision": "precision", "recall": "recall", "dice": "Dice", "auc": "AUC (empirical)",
                "binormal_auc": "AUC (binormal)"}

__all__ = ["architecture_capacities", "classification_capacity_figure", "classification_learnable_figure",
           "embedding_distance_figure", "png_bytes", "save_png", "segmentation_capacity_figure",
           "segmentation_learnable_figure", "stainer_panels"]


def save_png(figure: Figure, path: str | Path, *, dpi: int = 110) -> Path:
    """Write ``figure`` as a PNG file (parents created).

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        The figure.
    path : str or pathlib.Path
        Target file.
    dpi : int, optional
        Resolution (default 110).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target, dpi=dpi, format="png")
    return target


def png_bytes(figure: Figure, *, dpi: int = 110) -> bytes:
    """``figure`` as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, dpi=dpi, format="png")
    return buffer.getvalue()


def segmentation_capacity_figure(capacity: pd.DataFrame) -> Figure:
    """Precision, recall and Dice against capacity, one line per modality (the study's Fig. 3).

    Parameters
    ----------
    capacity : pandas.DataFrame
        ``capacity.csv`` of a segmentation evaluation: ``architecture``, ``modality``,
        ``capacity`` and for each metric ``<metric>``, ``<metric>_ci_low``, ``<metric>_ci_high``.

    Returns
    -------
    matplotlib.figure.Figure
        Three panels (a) precision, (b) recall, (c) Dice; x the trainable parameters (log), error
        bars the 95% interval of the mean over test images.
    """
    title = "Segmentation performance vs network capacity (study Fig. 3)"
    if capacity.empty:
        return plotting.empty_figure(title, "no capacity-sweep units")
    modalities = modality_order(capacity["modality"])
    figure, axes = plotting.panels(len(SEGMENTATION_METRICS), title, height=plotting.CAPACITY_PANEL_HEIGHT)
    for letter, axis, metric in zip("abc", axes, SEGMENTATION_METRICS, strict=True):
        plotting.metric_panel(
            axis, capacity, modalities, x_column="architecture", value=metric, low=f"{metric}_ci_low",
            high=f"{metric}_ci_high", ylabel=f"mean {METRIC_NAMES[metric]}",
            title=f"({letter}) {METRIC_NAMES[metric]}, 95% CI")
    return plotting.finish(figure)


def segmentation_learnable_figure(learnable: pd.DataFrame) -> Figure:
    """Precision, recall and Dice against training size, one line per modality (the study's Fig. 4).

    Parameters
    ----------
    learnable : pandas.DataFrame
        ``learnable.csv`` of a segmentation evaluation: ``architecture``, ``train_size``,
        ``modality`` and ``<metric>_mean``, ``<metric>_std`` for each metric.

    Returns
    -------
    matplotlib.figure.Figure
        Three panels; x the training size (log), error bars ± one standard deviation over subsets.
    """
    title = "Segmentation performance vs training size (study Fig. 4)"
    if learnable.empty:
        return plotting.empty_figure(title, "no learnable-capacity units")
    table = _with_spread_bounds(learnable, SEGMENTATION_METRICS)
    modalities = modality_order(table["modality"])
    figure, axes = plotting.panels(len(SEGMENTATION_METRICS), f"{title}: {_architectures(table)}")
    for letter, axis, metric in zip("abc", axes, SEGMENTATION_METRICS, strict=True):
        plotting.metric_panel(
            axis, table, modalities, x_column="train_size", value=f"{metric}_mean", low=f"{metric}_lo",
            high=f"{metric}_hi", ylabel=f"mean {METRIC_NAMES[metric]}",
            title=f"({letter}) {METRIC_NAMES[metric]}, mean ± SD over subsets")
    return plotting.finish(figure)


def _with_spread_bounds(table: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """``<metric>_lo`` / ``_hi`` = mean ∓ standard deviation (NaN where the spread is undefined)."""
    bounds: dict[str, pd.Series] = {}
    for metric in metrics:
        mean, spread = table[f"{metric}_mean"].astype(float), table[f"{metric}_std"].astype(float)
        bounds |= {f"{metric}_lo": mean - spread, f"{metric}_hi": mean + spread}
    return table.assign(**bounds)


def _architectures(table: pd.DataFrame) -> str:
    names = list(dict.fromkeys(str(name) for name in table["architecture"]))
    return ", ".join(names)


def stainer_panels(modalities: Sequence[str]) -> list[tuple[str, list[str]]]:
    """Panels of a per-stainer figure: ``(title, modalities)``, one per virtual stain present.

    Each panel holds label-free, that virtual stain and fluorescence (those present). Without a
    virtual stain, one panel holds what there is.
    """
    present = modality_order(modalities)
    references = [m for m in present if m not in VIRTUAL_MODALITIES]
    stainers = [m for m in present if m in VIRTUAL_MODALITIES]
    if not stainers:
        return [("no virtual stain", present)]
    return [(modality_name(stainer), modality_order([*references, stainer])) for stainer in stainers]


def classification_capacity_figure(capacity: pd.DataFrame, *, metric: str = "auc") -> Figure:
    """Test AUC with its 95% interval against capacity, one panel per virtual stainer (the study's Fig. 9).

    Parameters
    ----------
    capacity : pandas.DataFrame
        ``capacity.csv`` of a classification evaluation: ``architecture``, ``modality``,
        ``capacity``, ``<metric>``, ``<metric>_ci_low``, ``<metric>_ci_high``.
    metric : {"auc", "binormal_auc"}, optional
        The empirical AUC with DeLong's interval (default) or the binormal ML AUC.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per virtual stain, each with label-free, that stain and fluorescence.
    """
    title = f"Classification {METRIC_NAMES[metric]} vs network capacity (study Fig. 9)"
    if capacity.empty:
        return plotting.empty_figure(title, "no capacity-sweep units")
    panels = stainer_panels(capacity["modality"])
    figure, axes = plotting.panels(len(panels), title, height=plotting.CAPACITY_PANEL_HEIGHT)
    for axis, (name, modalities) in zip(axes, panels, strict=True):
        plotting.metric_panel(
            axis, capacity, modalities, x_column="architecture", value=metric, low=f"{metric}_ci_low",
            high=f"{metric}_ci_high", ylabel=f"test {METRIC_NAMES[metric]}, 95% CI", title=name)
    return plotting.finish(figure)


def classification_learnable_figure(learnable: pd.DataFrame, *, metric: str = "auc") -> Figure:
    """Mean test AUC ± one SD over subsets against training size, one panel per virtual stainer (Fig. 10).

    Parameters
    ----------
    learnable : pandas.DataFrame
        ``learnable.csv`` of a classification evaluation: ``architecture``, ``train_size``,
        ``modality``, ``<metric>_mean``, ``<metric>_std``.
    metric : {"auc", "binormal_auc"}, optional
        Which AUC (default the empirical one).

    Returns
    -------
    matplotlib.figure.Figure
        One panel per virtual stain, x the training size (log).
    """
    title = f"Classification {METRIC_NAMES[metric]} vs training size (study Fig. 10)"
    if learnable.empty:
        return plotting.empty_figure(title, "no learnable-capacity units")
    table = _with_spread_bounds(learnable, [metric])
    panels = stainer_panels(table["modality"])
    figure, axes = plotting.panels(len(panels), f"{title}: {_architectures(table)}")
    for axis, (name, modalities) in zip(axes, panels, strict=True):
        plotting.metric_panel(
            axis, table, modalities, x_column="train_size", value=f"{metric}_mean", low=f"{metric}_lo",
            high=f"{metric}_hi", ylabel=f"mean test {METRIC_NAMES[metric]} ± SD", title=name)
    return plotting.finish(figure)


def embedding_distance_figure(embeddings: pd.DataFrame) -> Figure:
    """Cosine distance between class embeddings at low, medium and high capacity (the study's Fig. 11).

    Parameters
    ----------
    embeddings : pandas.DataFrame
        ``embeddings.csv``: ``level``, ``architecture``, ``capacity``, ``modality``,
        ``cosine_distance``, ``ci_low``, ``ci_high``.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per virtual stain; bars grouped by capacity level, one per modality, error bars
        the 95% bootstrap interval.
    """
    title = "Cosine distance between control and treated embeddings (study Fig. 11)"
    if embeddings.empty:
        return plotting.empty_figure(title, "no embeddings (no capacity-sweep units)")
    panels = stainer_panels(embeddings["modality"])
    figure, axes = plotting.panels(len(panels), title)
    for axis, (name, modalities) in zip(axes, panels, strict=True):
        drawn = plotting.grouped_bars(axis, embeddings, modalities)
        finite = np.concatenate([v[np.isfinite(v)] for v in drawn]) if drawn else np.array([])
        axis.set_ylim(0, float(finite.max()) * 1.15 if finite.size and finite.max() > 0 else 1)
        axis.set_ylabel("cosine distance, 95% CI")
        axis.set_title(name, fontsize=10)
        axis.grid(True, axis="y", alpha=0.3)
        axis.legend(fontsize=7, loc="best")
    return plotting.finish(figure)
