"""Interquartile-range outlier removal on per-nucleus quantities.

The study plotted a histogram of the nucleus images and removed interquartile-range outliers to
drop clusters and segmentation errors. Here the quantity is a parameter; the default is the
nucleus area (mask pixel count): merged nuclei (clusters) have about twice the typical area and
fragments from over-segmentation a fraction of it, while area, unlike integrated intensity, does
not depend on the marker (a Lamin rim and a DAPI fill integrate differently) nor on the
label-free modality (phase contrast has no physical scale). Fences are computed per condition so
that the treatment's real effect on nucleus size is kept.

References
----------
Tukey, J. W. Exploratory Data Analysis (Addison-Wesley, 1977): fences at Q1 - k IQR and
Q3 + k IQR with k = 1.5.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from stainworth.errors import ConfigError

STATUS_OK = "ok"


def remove_outliers_iqr(values: Sequence[float] | np.ndarray, *, k: float = 1.5) -> np.ndarray:
    """Keep-mask of Tukey's fences: True where Q1 - k IQR <= value <= Q3 + k IQR.

    Parameters
    ----------
    values
        (n,) real values (e.g. nucleus areas in px).
    k
        Fence multiplier (1.5: Tukey's "outside" values).

    Returns
    -------
    numpy.ndarray
        (n,) bool, True for values to keep. NaN values are dropped.
    """
    data = np.asarray(values, dtype=np.float64)
    if k < 0:
        raise ConfigError(f"k: found {k}; expected a non-negative fence multiplier")
    finite = np.isfinite(data)
    if not finite.any():
        return finite
    q1, q3 = np.percentile(data[finite], [25, 75])
    spread = q3 - q1
    return finite & (data >= q1 - k * spread) & (data <= q3 + k * spread)


def filter_outliers(
    table: pd.DataFrame, *, quantities: Sequence[str] = ("area_px",), k: float = 1.5, by: str | None = "condition"
) -> pd.Series:
    """Keep-mask of usable nuclei (``status == "ok"``) inside the IQR fences of every quantity.

    Fences are computed per group of ``by`` (per condition by default), so a real difference
    between conditions (treated nuclei are larger) is not mistaken for outliers.

    Parameters
    ----------
    table
        Output of :func:`measure_nuclei` (possibly concatenated over mosaics).
    quantities
        Columns the fences act on; default nucleus area (``area_px``).
    k
        Fence multiplier.
    by
        Column to group by, or None for one group.

    Returns
    -------
    pandas.Series
        bool, aligned with ``table``; skipped nuclei are False.
    """
    missing = [name for name in quantities if name not in table.columns]
    if missing:
        raise ConfigError(f"quantities: columns {missing} not in the nuclei table; has {list(table.columns)}")
    keep = table["status"] == STATUS_OK
    groups = [keep.index] if by is None else [idx for _, idx in table.groupby(by, dropna=False).groups.items()]
    result = pd.Series(False, index=table.index)
    for index in groups:
        rows = index[keep.loc[index].to_numpy()]
        mask = np.ones(len(rows), dtype=bool)
        for name in quantities:
            mask &= remove_outliers_iqr(table.loc[rows, name].to_numpy(), k=k)
        result.loc[rows[mask]] = True
    return result
