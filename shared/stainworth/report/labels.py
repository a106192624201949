"""How the report names, colours and prints things: modalities, parameter counts, numbers with uncertainty.

The four modalities always appear in the same order (label-free, the two virtual stains,
fluorescence) with the same colour and marker in every figure, and the same legend name in
every figure and table.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from stainworth.contracts.task import VIRTUAL_PREFIX, is_virtual, modality_rank, network_source

MODALITY_NAMES: dict[str, str] = {
    "label_free": "label-free",
    "virtual_effunet": "virtual (EfficientUNet)",
    "virtual_pix2pixhd": "virtual (Pix2pixHD)",
    "fluorescence": "fluorescence",
}
"""Legend and table name of each modality."""
MODALITY_COLOURS: dict[str, str] = {
    "label_free": "#4d4d4d",
    "virtual_effunet": "#1f77b4",
    "virtual_pix2pixhd": "#ff7f0e",
    "fluorescence": "#2ca02c",
}
"""Colour of each modality (grey, blue, orange, green)."""
MODALITY_MARKERS: dict[str, str] = {"label_free": "o", "virtual_effunet": "s", "virtual_pix2pixhd": "^",
                                    "fluorescence": "D"}
STAINER_NAMES: dict[str, str] = {"efficientunet": "EfficientUNet", "pix2pixhd": "Pix2pixHD",
                                 "identity": "identity (baseline)", "linear": "global linear (baseline)"}
"""Names of the ``stain_report`` methods."""
MISSING = "–"
"""Shown for a missing or undefined number."""


USER_NETWORK_MARK = " (yours)"
"""Follows the name of a network of your own (``timm:``, ``smp:``, ``py:``) in every table."""


def network_label(architecture: Any) -> str:
    """``architecture`` as tables show it: a network of your own marked :data:`USER_NETWORK_MARK`."""
    name = str(architecture)
    return name + USER_NETWORK_MARK if network_source(name) == "user" else name


EXTERNAL_COLOURS = ("#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")
EXTERNAL_MARKERS = ("v", "P", "X", "<", ">", "h")
"""Colours and markers of external stainers' modalities, in the order of their names."""


def modality_name(modality: str) -> str:
    """The legend name of ``modality``: ``virtual (<name>)`` for an external stainer's."""
    if modality not in MODALITY_NAMES and is_virtual(modality):
        return f"virtual ({modality[len(VIRTUAL_PREFIX):]})"
    return MODALITY_NAMES.get(modality, modality)


def modality_style(modality: str, present: Any = ()) -> tuple[str | None, str]:
    """``(colour, marker)`` of ``modality``; an external stainer's by its place among the external ones ``present``."""
    if modality in MODALITY_COLOURS:
        return MODALITY_COLOURS[modality], MODALITY_MARKERS[modality]
    external = sorted(({str(m) for m in present} | {modality}) - set(MODALITY_COLOURS))
    k = external.index(modality)
    return EXTERNAL_COLOURS[k % len(EXTERNAL_COLOURS)], EXTERNAL_MARKERS[k % len(EXTERNAL_MARKERS)]


def modality_order(modalities: Any) -> list[str]:
    """The distinct ``modalities`` in reporting order: label-free, the study's stainers, external ones, fluorescence."""
    return sorted({str(m) for m in modalities}, key=modality_rank)


def is_missing(value: Any) -> bool:
    """Whether the scalar ``value`` is None, NaN, NaT or pandas' NA."""
    missing = pd.isna(value)
    return missing if isinstance(missing, bool) else False


def number(value: Any) -> str:
    """A measured number: three decimals between 0.1 and 10 000, three significant digits (kept) otherwise."""
    if is_missing(value):
        return MISSING
    x = float(value)
    if x == 0:
        return "0"
    if 0.1 <= abs(x) < 1e4:
        return f"{x:.3f}"
    return f"{x:#.3g}"


def count(value: Any) -> str:
    """An integer with thousands separators (``13,073``)."""
    return MISSING if is_missing(value) else f"{int(value):,}"


def short_count(value: float) -> str:
    """A parameter count in three significant digits with k/M/G (``417``, ``24.3k``, ``66.8M``)."""
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:.0f}"


def with_interval(value: Any, low: Any, high: Any) -> str:
    """``0.812 [0.750, 0.870]``; the interval is left out when undefined."""
    if is_missing(low) or is_missing(high):
        return number(value)
    return f"{number(value)} [{number(low)}, {number(high)}]"


def interval(low: Any, high: Any) -> str:
    """``[0.750, 0.870]``; the missing sign when undefined."""
    if is_missing(low) or is_missing(high):
        return MISSING
    return f"[{number(low)}, {number(high)}]"


def degrees(df: Any) -> str:
    """Degrees of freedom: one decimal, ``∞`` for infinite, ``> 1,000`` beyond (a t as good as normal)."""
    if is_missing(df):
        return MISSING
    x = float(df)
    if x == float("inf"):
        return "∞"
    return "> 1,000" if x > 1000 else f"{x:.1f}"


def with_spread(value: Any, spread: Any) -> str:
    """``0.812 ± 0.020``; the spread is left out when undefined (a single subset)."""
    if is_missing(spread):
        return number(value)
    return f"{number(value)} ± {number(spread)}"
