"""The study's result figures drawn from the ``evaluate`` tables (matplotlib, Agg backend).

Every network is trained several times (replicates; in the learnable sweep also on several random
training subsets). Each line goes through the figures combined over those trainings, its error
bars are the combined 95% interval (test-set sampling and between-training variance together),
and every single training is drawn beside it as a small point of the same colour.

- :func:`segmentation_capacity_figure` (the study's Fig. 3): precision, recall and Dice against the
  trainable parameters of each network (log axis, ticks named by architecture and count), one line
  per modality through the summary rows of ``capacity.csv``, points its replicate rows.
- :func:`segmentation_learnable_figure` (Fig. 4): the same against the training size from
  ``learnable.csv``; points: the test Dice of each training (``units.csv``; ``units.csv`` records
  Dice only, so the precision and recall panels show no points).
- :func:`classification_capacity_figure` (Fig. 9): the test AUC combined over replicates with its
  95% interval against the trainable parameters, one panel per virtual stainer, each holding
  label-free, that stain and fluorescence; points the replicates.
- :func:`classification_learnable_figure` (Fig. 10): the combined AUC and its interval against the
  training size, one panel per virtual stainer; points the empirical AUC of each training.
- :func:`embedding_distance_figure` (Fig. 11): cosine distance between the control and treated
  class embeddings at low, medium and high capacity, grouped bars per modality with their 95%
  bootstrap interval, one panel per virtual stainer.

Every function takes the tables as ``evaluate`` writes them and returns a Figure (built without
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

from stainworth.contracts.task import is_virtual
from stainworth.report import plotting
from stainworth.report.inputs import replicate_rows, summary_rows
from stainworth.report.labels import modality_name, modality_order
from stainworth.report.plotting import architecture_capacities

SEGMENTATION_METRICS = ("precision", "recall", "dice")
METRIC_NAMES = {"precision": "precision", "recall": "recall", "dice": "Dice", "auc": "AUC (empirical)",
                "binormal_auc": "AUC (binormal)"}

__all__ = ["architecture_capacities", "classification_capacity_figure", "classification_learnable_figure",
           "embedding_distance_figure", "learnable_points", "png_bytes", "save_png", "segmentation_capacity_figure",
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
        ``replicate``, ``capacity`` and for each metric ``<metric>``, ``<metric>_ci_low``,
        ``<metric>_ci_high`` (summary rows: combined over replicates; replicate rows: one training).

    Returns
    -------
    matplotlib.figure.Figure
        Three panels (a) precision, (b) recall, (c) Dice; x the trainable parameters (log); lines
        and error bars the combined estimates and 95% intervals, points the single trainings.
    """
    title = "Segmentation performance vs network capacity (study Fig. 3)"
    if capacity.empty:
        return plotting.empty_figure(title, "no capacity-sweep units")
    summary, points = summary_rows(capacity), replicate_rows(capacity)
    modalities = modality_order(summary["modality"])
    figure, axes = plotting.panels(len(SEGMENTATION_METRICS), title, height=plotting.CAPACITY_PANEL_HEIGHT)
    for letter, axis, metric in zip("abc", axes, SEGMENTATION_METRICS, strict=True):
        plotting.metric_panel(
            axis, summary, modalities, x_column="architecture", value=metric, low=f"{metric}_ci_low",
            high=f"{metric}_ci_high", ylabel=f"mean {METRIC_NAMES[metric]}",
            title=f"({letter}) {METRIC_NAMES[metric]}, 95% CI", points=points)
    return plotting.finish(figure)


def learnable_points(learnable: pd.DataFrame, units: pd.DataFrame | None, metric: str) -> pd.DataFrame | None:
    """The single trainings of the learnable sweep with their test ``metric`` (``units.csv``), or None.

    Parameters
    ----------
    learnable : pandas.DataFrame
        ``learnable.csv`` (its architectures select the trainings).
    units : pandas.DataFrame or None
        ``units.csv``: ``architecture``, ``modality``, ``train_size`` and ``test_<metric>``.
    metric : str
        ``auc`` or ``dice``; None is returned when ``units`` is None or lacks ``test_<metric>``.
    """
    column = f"test_{metric}"
    if units is None or column not in units.columns:
        return None
    sized = units[units["train_size"].notna() & units["architecture"].isin(set(learnable["architecture"]))]
    return sized.assign(train_size=sized["train_size"].astype(float))


def segmentation_learnable_figure(learnable: pd.DataFrame, units: pd.DataFrame | None = None) -> Figure:
    """Precision, recall and Dice against training size, one line per modality (the study's Fig. 4).

    Parameters
    ----------
    learnable : pandas.DataFrame
        ``learnable.csv`` of a segmentation evaluation: ``architecture``, ``train_size``,
        ``modality`` and ``<metric>_mean``, ``<metric>_ci_low``, ``<metric>_ci_high`` for each metric.
    units : pandas.DataFrame, optional
        ``units.csv``: the test Dice of every training (``test_dice``), drawn as points on the
        Dice panel.

    Returns
    -------
    matplotlib.figure.Figure
        Three panels; x the training size (log), lines the combined means, error bars their 95%
        intervals (training subsets and replicates as trainings, test-set sampling), points the
        single trainings (Dice only).
    """
    title = "Segmentation performance vs training size (study Fig. 4)"
    if learnable.empty:
        return plotting.empty_figure(title, "no learnable-capacity units")
    modalities = modality_order(learnable["modality"])
    points = learnable_points(learnable, units, "dice")
    figure, axes = plotting.panels(len(SEGMENTATION_METRICS), f"{title}: {_architectures(learnable)}")
    for letter, axis, metric in zip("abc", axes, SEGMENTATION_METRICS, strict=True):
        plotting.metric_panel(
            axis, learnable, modalities, x_column="train_size", value=f"{metric}_mean", low=f"{metric}_ci_low",
            high=f"{metric}_ci_high", ylabel=f"mean {METRIC_NAMES[metric]}",
            title=f"({letter}) {METRIC_NAMES[metric]}, 95% CI", points=points if metric == "dice" else None,
            point_value="test_dice")
    return plotting.finish(figure)


def _architectures(table: pd.DataFrame) -> str:
    names = list(dict.fromkeys(str(name) for name in table["architecture"]))
    return ", ".join(names)


def stainer_panels(modalities: Sequence[str]) -> list[tuple[str, list[str]]]:
    """Panels of a per-stainer figure: ``(title, modalities)``, one per virtual stain present.

    Each panel holds label-free, that virtual stain and fluorescence (those present). Without a
    virtual stain, one panel holds what there is.
    """
    present = modality_order(modalities)
    references = [m for m in present if not is_virtual(m)]
    stainers = [m for m in present if is_virtual(m)]
    if not stainers:
        return [("no virtual stain", present)]
    return [(modality_name(stainer), modality_order([*references, stainer])) for stainer in stainers]


def classification_capacity_figure(capacity: pd.DataFrame, *, metric: str = "auc") -> Figure:
    """Test AUC with its 95% interval against capacity, one panel per virtual stainer (the study's Fig. 9).

    Parameters
    ----------
    capacity : pandas.DataFrame
        ``capacity.csv`` of a classification evaluation: ``architecture``, ``modality``,
        ``replicate``, ``capacity``, ``<metric>``, ``<metric>_ci_low``, ``<metric>_ci_high``.
    metric : {"auc", "binormal_auc"}, optional
        The empirical AUC (default) or the binormal ML AUC.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per virtual stain, each with label-free, that stain and fluorescence: lines the
        AUCs combined over replicates, error bars their 95% intervals, points the replicates.
    """
    title = f"Classification {METRIC_NAMES[metric]} vs network capacity (study Fig. 9)"
    if capacity.empty:
        return plotting.empty_figure(title, "no capacity-sweep units")
    summary, points = summary_rows(capacity), replicate_rows(capacity)
    panels = stainer_panels(summary["modality"])
    figure, axes = plotting.panels(len(panels), title, height=plotting.CAPACITY_PANEL_HEIGHT)
    for axis, (name, modalities) in zip(axes, panels, strict=True):
        plotting.metric_panel(
            axis, summary, modalities, x_column="architecture", value=metric, low=f"{metric}_ci_low",
            high=f"{metric}_ci_high", ylabel=f"test {METRIC_NAMES[metric]}, 95% CI", title=name, points=points)
    return plotting.finish(figure)


def classification_learnable_figure(learnable: pd.DataFrame, units: pd.DataFrame | None = None, *,
                                    metric: str = "auc") -> Figure:
    """Combined test AUC and its 95% interval against training size, one panel per virtual stainer (Fig. 10).

    Parameters
    ----------
    learnable : pandas.DataFrame
        ``learnable.csv`` of a classification evaluation: ``architecture``, ``train_size``,
        ``modality``, ``<metric>_mean``, ``<metric>_ci_low``, ``<metric>_ci_high``.
    units : pandas.DataFrame, optional
        ``units.csv``: the empirical test AUC of every training (``test_auc``), drawn as points
        (for ``metric="auc"`` only).
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
    panels = stainer_panels(learnable["modality"])
    points = learnable_points(learnable, units, metric)
    figure, axes = plotting.panels(len(panels), f"{title}: {_architectures(learnable)}")
    for axis, (name, modalities) in zip(axes, panels, strict=True):
        plotting.metric_panel(
            axis, learnable, modalities, x_column="train_size", value=f"{metric}_mean", low=f"{metric}_ci_low",
            high=f"{metric}_ci_high", ylabel=f"test {METRIC_NAMES[metric]}, 95% CI", title=name, points=points,
            point_value=f"test_{metric}")
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
