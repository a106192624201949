"""Drawing helpers of the report's figures: panels, dodged error-bar lines, capacity and size axes, grouped bars.

Series of the modalities that share one x are shifted a few points apart on the display (a
transform offset), so the drawn data stay the exact parameter counts and training sizes. Error
bars are never negative and an undefined (NaN) interval draws no bar. Beside each line of means,
the single trainings behind it are drawn as small, lighter points (one scatter per modality,
shifted with its line), so that the spread between retrained networks shows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import NullLocator
from matplotlib.transforms import ScaledTranslation

from stainworth.report.labels import modality_name, modality_style, short_count

LEVELS = ("low", "medium", "high")
"""Capacity levels of the embedding analysis, in drawing order."""
DODGE_POINTS = 9.0
"""Display offset between the modalities drawn at one x, in points."""
POINT_OFFSET = 3.5
"""Display offset of the single-training points to the right of their modality's error bar, in points."""
POINT_SIZE = 9.0
"""Marker area (points²) of a single training."""
POINTS_LABEL = "single trainings"
PANEL_SIZE = (4.6, 3.6)
"""Inches of one panel."""
CAPACITY_PANEL_HEIGHT = 4.6
"""Inches: a capacity panel is taller, to hold its upright architecture labels below the plot."""
MIN_WIDTH = 7.5
"""Inches: a one-panel figure is widened so that its title fits."""


def panels(count: int, title: str, *, height: float = PANEL_SIZE[1]) -> tuple[Figure, list[Axes]]:
    """A figure of ``count`` panels side by side under ``title``, ``height`` inches tall."""
    figure = Figure(figsize=(max(PANEL_SIZE[0] * count, MIN_WIDTH), height))
    axes = figure.subplots(1, count, squeeze=False)
    figure.suptitle(title, fontsize=11)
    return figure, list(axes[0])


def empty_figure(title: str, message: str) -> Figure:
    """One panel saying ``message`` (a sweep the run did not produce)."""
    figure, (axis,) = panels(1, title)
    axis.text(0.5, 0.5, message, ha="center", va="center", transform=axis.transAxes, fontsize=10)
    axis.set_axis_off()
    return figure


def finish(figure: Figure) -> Figure:
    """``figure`` with its layout tightened."""
    figure.tight_layout()
    return figure


def error_lengths(values: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """(2, n) error bar lengths below and above; NaN where the interval is undefined, never negative."""
    with np.errstate(invalid="ignore"):
        return np.vstack([np.clip(values - low, 0, None), np.clip(high - values, 0, None)])


def _shift(axis: Axes, slot: float, extra: float = 0.0) -> ScaledTranslation:
    return ScaledTranslation((slot * DODGE_POINTS + extra) / 72.0, 0, axis.figure.dpi_scale_trans)


def dodged_series(axis: Axes, x: np.ndarray, y: np.ndarray, errors: np.ndarray, modality: str, slot: float,
                  present: Sequence[str] = ()) -> None:
    """One modality's line with error bars, shifted ``slot`` dodge steps on the display.

    ``present``: the figure's modalities (they set an external stainer's colour).
    """
    colour, marker = modality_style(modality, present)
    axis.errorbar(x, y, yerr=errors, label=modality_name(modality), color=colour, marker=marker, markersize=5,
                  capsize=3, linewidth=1.4, transform=axis.transData + _shift(axis, slot), zorder=3)


def dodged_points(axis: Axes, x: np.ndarray, y: np.ndarray, modality: str, slot: float,
                  present: Sequence[str] = ()) -> None:
    """Single trainings of one modality as small points (one scatter), just right of its line's error bar."""
    axis.scatter(x, y, s=POINT_SIZE, color=modality_style(modality, present)[0], alpha=0.6, linewidths=0,
                 transform=axis.transData + _shift(axis, slot, POINT_OFFSET), zorder=4)


def points_handle() -> Line2D:
    """The legend entry of the single-training points."""
    return Line2D([], [], linestyle="none", marker="o", markersize=3, color="#777777", alpha=0.7,
                  label=POINTS_LABEL)


def slots(count: int) -> list[float]:
    """Dodge positions of ``count`` series, centred on 0."""
    return [k - (count - 1) / 2 for k in range(count)]


def y_limits(axis: Axes, values: Sequence[np.ndarray]) -> None:
    """A y range around the drawn values and bars, within [0, 1.05] (every metric drawn is bounded by 1)."""
    finite = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.array([])
    if finite.size == 0:
        axis.set_ylim(0, 1)
        return
    low, high = float(finite.min()), float(finite.max())
    pad = max(0.05, 0.08 * (high - low))
    axis.set_ylim(max(0.0, low - pad), min(1.05, high + pad))


def architecture_capacities(table: pd.DataFrame) -> pd.Series:
    """Trainable parameters of each architecture (its smallest over modalities), ascending."""
    return table.groupby("architecture")["capacity"].min().sort_values()


def capacity_axis(axis: Axes, capacities: pd.Series) -> None:
    """Log x axis with one tick per architecture: name and parameter count.

    The labels stand upright so that close ones (ResNet18/50/101 lie within 0.6 decades) stay legible.
    """
    axis.set_xscale("log")
    ticks = capacities.to_numpy(dtype=float)
    axis.set_xticks(ticks, [f"{name} ({short_count(value)})" for name, value in capacities.items()], fontsize=8,
                    rotation=90)
    axis.xaxis.set_minor_locator(NullLocator())
    axis.set_xlim(ticks.min() / 1.8, ticks.max() * 1.8)
    axis.set_xlabel("trainable parameters")


def size_axis(axis: Axes, sizes: np.ndarray) -> None:
    """Log x axis with one tick per training size."""
    axis.set_xscale("log")
    ticks = np.unique(sizes.astype(float))
    axis.set_xticks(ticks, [f"{int(size):,}" for size in ticks], fontsize=8)
    axis.xaxis.set_minor_locator(NullLocator())
    axis.set_xlim(ticks.min() / 1.5, ticks.max() * 1.5)
    axis.set_xlabel("training images")


def _x(rows: pd.DataFrame, x_column: str, capacities: pd.Series) -> np.ndarray:
    if x_column == "architecture":
        return rows["architecture"].map(capacities).to_numpy(dtype=float)
    return rows[x_column].to_numpy(dtype=float)


def lines(axis: Axes, table: pd.DataFrame, modalities: Sequence[str], x_column: str, value: str, low: str,
          high: str, points: pd.DataFrame | None = None, point_value: str | None = None) -> list[np.ndarray]:
    """One line per modality of ``table`` and, from ``points``, one point per training beside it.

    Parameters
    ----------
    axis : matplotlib.axes.Axes
        The panel.
    table : pandas.DataFrame
        One row per (x, modality): ``modality``, ``x_column``, ``value``, ``low``, ``high``.
    modalities : sequence of str
        Modalities to draw, in order (each gets its dodge slot).
    x_column : str
        ``architecture`` (x: its parameter count) or ``train_size``.
    value, low, high : str
        Columns of the line and of its error bar's ends.
    points : pandas.DataFrame, optional
        Single trainings: ``modality``, ``x_column`` and ``point_value``; rows at an x the line
        does not have, or with an undefined value, are not drawn.
    point_value : str, optional
        Column of ``points`` (default ``value``).

    Returns
    -------
    list of numpy.ndarray
        The drawn values, bar ends and points (for the y range).
    """
    drawn: list[np.ndarray] = []
    capacities = architecture_capacities(table) if x_column == "architecture" else pd.Series(dtype=float)
    for modality, slot in zip(modalities, slots(len(modalities)), strict=True):
        rows = table[table["modality"] == modality]
        if rows.empty:
            continue
        x = _x(rows, x_column, capacities)
        order = np.argsort(x, kind="stable")
        y = rows[value].to_numpy(dtype=float)[order]
        bar_low, bar_high = rows[low].to_numpy(dtype=float)[order], rows[high].to_numpy(dtype=float)[order]
        dodged_series(axis, x[order], y, error_lengths(y, bar_low, bar_high), modality, slot, modalities)
        drawn += [y, bar_low, bar_high]
        if points is not None:
            drawn.append(_points(axis, points, rows, (modality, slot, modalities), x_column, point_value or value,
                                 capacities))
    return drawn


def _points(axis: Axes, points: pd.DataFrame, rows: pd.DataFrame, series: tuple[str, float, Sequence[str]],
            x_column: str, column: str, capacities: pd.Series) -> np.ndarray:
    """The single trainings of one modality at the x of its line; returns their values.

    ``series``: the modality, its dodge slot and the figure's modalities.
    """
    modality, slot, modalities = series
    own = points[(points["modality"] == modality) & points[x_column].isin(set(rows[x_column]))]
    x, y = _x(own, x_column, capacities), own[column].to_numpy(dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.any():
        dodged_points(axis, x[keep], y[keep], modality, slot, modalities)
    return y[keep]


def metric_panel(axis: Axes, table: pd.DataFrame, modalities: Sequence[str], *, x_column: str, value: str,
                 low: str, high: str, ylabel: str, title: str, points: pd.DataFrame | None = None,
                 point_value: str | None = None) -> None:
    """One panel: a line per modality of ``value`` with bars from ``low`` to ``high``, its single trainings as points.

    See :func:`lines` for ``points`` and ``point_value``; the legend names the modalities and, when
    any point is drawn, the single trainings.
    """
    drawn = lines(axis, table, modalities, x_column, value, low, high, points, point_value)
    if x_column == "architecture":
        capacity_axis(axis, architecture_capacities(table))
    else:
        size_axis(axis, table[x_column].to_numpy(dtype=float))
    y_limits(axis, drawn)
    axis.set_ylabel(ylabel)
    axis.set_title(title, fontsize=10)
    axis.grid(True, axis="y", alpha=0.3)
    handles, _ = axis.get_legend_handles_labels()
    if any(isinstance(c, PathCollection) and np.asarray(c.get_offsets()).size for c in axis.collections):
        handles.append(points_handle())
    axis.legend(handles=handles, fontsize=7, loc="best")


def level_labels(embeddings: pd.DataFrame) -> list[tuple[str, str]]:
    """``(level, tick label)`` of the capacity levels present, low to high."""
    present = [level for level in LEVELS if level in set(embeddings["level"])]
    present += sorted(set(map(str, embeddings["level"])) - set(LEVELS))
    labels = []
    for level in present:
        first = embeddings[embeddings["level"] == level].iloc[0]
        labels.append((level, f"{level}\n{first['architecture']} ({short_count(float(first['capacity']))})"))
    return labels


def grouped_bars(axis: Axes, embeddings: pd.DataFrame, modalities: Sequence[str]) -> list[np.ndarray]:
    """Cosine-distance bars grouped by capacity level, one per modality; returns the drawn values and bar tops."""
    levels = level_labels(embeddings)
    width = 0.8 / max(len(modalities), 1)
    drawn: list[np.ndarray] = []
    for k, modality in enumerate(modalities):
        rows = embeddings[embeddings["modality"] == modality].set_index("level")
        keep = [i for i, (level, _) in enumerate(levels) if level in rows.index]
        if not keep:
            continue
        picked = rows.loc[[levels[i][0] for i in keep]]
        values = picked["cosine_distance"].to_numpy(dtype=float)
        low, high = picked["ci_low"].to_numpy(dtype=float), picked["ci_high"].to_numpy(dtype=float)
        x = np.asarray(keep, dtype=float) + (k - (len(modalities) - 1) / 2) * width
        axis.bar(x, values, width=width, yerr=error_lengths(values, low, high), capsize=3,
                 label=modality_name(modality), color=modality_style(modality, modalities)[0], edgecolor="black",
                 linewidth=0.5)
        drawn += [values, high]
    axis.set_xticks(range(len(levels)), [label for _, label in levels], fontsize=8)
    return drawn
