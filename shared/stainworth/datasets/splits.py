"""Split bookkeeping: requested counts, region-disjoint partitions of a mosaic, balanced draws.

Segmentation crops are split *by region*: the mosaic is cut into disjoint rectangles, each owned
by one split, and every crop lies fully inside a rectangle of its split, so no crop of one split
shares a pixel with a crop of another (random crops of one image otherwise leak test pixels into
training). Classification nuclei are distinct objects and are split by a seeded draw, 1:1 per
condition.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from stainworth.errors import ConfigError, InputDataError

SPLIT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
CLASSES = ("control", "treated")
"""Condition of label 0 and label 1."""

RegionSplit = Literal["bands", "blocks"]


def validate_counts(counts: Mapping[str, int]) -> dict[str, int]:
    """Check requested items per split: names like ``train``, non-negative integers, some > 0.

    Raises
    ------
    ConfigError
        Naming the offending split and value.
    """
    if not counts:
        raise ConfigError("counts: no splits given; expected e.g. {'train': 800, 'val': 100, 'test': 100}")
    out: dict[str, int] = {}
    for name, value in counts.items():
        if not SPLIT_NAME.match(str(name)):
            raise ConfigError(f"counts: split name '{name}' must be lower-case letters, digits and '_'")
        number = float(value)
        if number < 0 or number != int(number):
            raise ConfigError(f"counts.{name}: found {value!r}; expected a non-negative integer")
        out[str(name)] = int(number)
    if sum(out.values()) == 0:
        raise ConfigError(f"counts: every split is 0 ({out}); expected at least one item")
    return out


@dataclass(frozen=True)
class Region:
    """A rectangle ``[y0:y1, x0:x1]`` of the mosaic owned by one split."""

    split: str
    y0: int
    x0: int
    y1: int
    x1: int

    def positions(self, patch: int) -> int:
        """Number of distinct top-left positions of a ``patch`` x ``patch`` crop inside."""
        return max(self.y1 - self.y0 - patch + 1, 0) * max(self.x1 - self.x0 - patch + 1, 0)


def _shares(total: int, counts: dict[str, int]) -> dict[str, int]:
    """Integer shares of ``total`` proportional to the counts, at least 1 each."""
    weight = sum(counts.values())
    shares = {name: max(1, int(total * count // weight)) for name, count in counts.items()}
    largest = max(counts, key=lambda name: counts[name])
    shares[largest] += total - sum(shares.values())
    return shares


def partition_bands(shape_yx: tuple[int, int], counts: Mapping[str, int], *, patch: int) -> list[Region]:
    """Cut the mosaic across its longer axis into one band per split with a non-zero count.

    Band lengths are chosen so the number of distinct crop positions per band is proportional
    to the split's count (equal crop density in every split).

    Raises
    ------
    InputDataError
        If the mosaic cannot hold one band of at least ``patch`` px per split.
    """
    wanted = {name: count for name, count in validate_counts(counts).items() if count > 0}
    height, width = (int(v) for v in shape_yx)
    along_y = height >= width
    length, across = (height, width) if along_y else (width, height)
    free = length - len(wanted) * (patch - 1)
    if across < patch or free < len(wanted):
        axis = "y" if along_y else "x"
        raise InputDataError(
            f"mosaic {height}x{width} px is too small for {len(wanted)} region-disjoint splits of "
            f"{patch}x{patch} px patches: bands along {axis} need at least {len(wanted) * patch} x {patch} px")
    regions, start = [], 0
    for name, share in _shares(free, wanted).items():
        stop = start + share + patch - 1
        regions.append(Region(name, start, 0, stop, width) if along_y else Region(name, 0, start, height, stop))
        start = stop
    return regions


def partition_blocks(
    shape_yx: tuple[int, int], counts: Mapping[str, int], *, patch: int, block: int, seed: int
) -> list[Region]:
    """Cut the mosaic into a grid of blocks and deal them to the splits by a seeded shuffle.

    Blocks are about ``block`` px square (edge blocks absorb the remainder); each split with a
    non-zero count receives a number of blocks proportional to its count, at least one. Blocks
    spread every split over the whole field, which matters when density or illumination drift
    across the mosaic.

    Raises
    ------
    InputDataError
        If the grid holds fewer blocks than splits.
    """
    wanted = {name: count for name, count in validate_counts(counts).items() if count > 0}
    if block < patch:
        raise ConfigError(f"block {block} px is smaller than the patch ({patch} px); expected block >= patch")
    height, width = (int(v) for v in shape_yx)
    rows, cols = height // block, width // block
    if rows * cols < len(wanted):
        raise InputDataError(
            f"mosaic {height}x{width} px holds {rows * cols} blocks of {block} px; {len(wanted)} splits "
            f"need at least {len(wanted)} (use region_split='bands' or a smaller block)")
    y_edges = np.linspace(0, height, rows + 1).round().astype(int)
    x_edges = np.linspace(0, width, cols + 1).round().astype(int)
    cells = [(r, c) for r in range(rows) for c in range(cols)]
    order = np.random.default_rng(np.random.SeedSequence([int(seed), 0xB10C])).permutation(len(cells))
    regions, start = [], 0
    for name, share in _shares(len(cells), wanted).items():
        for index in order[start:start + share]:
            r, c = cells[int(index)]
            regions.append(Region(name, int(y_edges[r]), int(x_edges[c]), int(y_edges[r + 1]), int(x_edges[c + 1])))
        start += share
    return regions


def sample_positions(regions: list[Region], count: int, *, patch: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``count`` distinct crop top-left positions uniformly over the regions.

    Returns
    -------
    numpy.ndarray
        (count, 2) int64 top-left (y, x), sorted by y then x.

    Raises
    ------
    InputDataError
        If the regions hold fewer distinct positions than requested.
    """
    sizes = np.array([region.positions(patch) for region in regions], dtype=np.int64)
    total = int(sizes.sum())
    if count > total:
        split = regions[0].split if regions else "?"
        raise InputDataError(
            f"split '{split}': its region holds {total} distinct {patch}x{patch} px crop positions but "
            f"{count} were requested; use a larger mosaic, fewer crops or a smaller patch")
    if count == 0:
        return np.zeros((0, 2), dtype=np.int64)
    picks = np.sort(rng.choice(total, size=count, replace=False))
    starts = np.concatenate([[0], np.cumsum(sizes)])
    owner = np.searchsorted(starts, picks, side="right") - 1
    out = np.empty((count, 2), dtype=np.int64)
    for k, region in enumerate(regions):
        chosen = owner == k
        offset = picks[chosen] - starts[k]
        span = region.x1 - region.x0 - patch + 1
        out[chosen, 0] = region.y0 + offset // max(span, 1)
        out[chosen, 1] = region.x0 + offset % max(span, 1)
    return out[np.lexsort((out[:, 1], out[:, 0]))]


def balance_and_split(
    table: pd.DataFrame, *, counts: Mapping[str, int], seed: int, by: str = "condition"
) -> pd.DataFrame:
    """Draw 1:1 control/treated nuclei for every split, without reuse across splits.

    Parameters
    ----------
    table
        One row per usable nucleus with columns ``source``, ``label_id`` and ``by``
        (``control`` or ``treated``); filter out skipped nuclei and outliers first.
    counts
        Items per split (even numbers: half control, half treated), e.g.
        ``{"train": 10000, "val": 1000, "test": 1000}``.
    seed
        Seed of the draw; the result does not depend on the row order of ``table``.
    by
        Column holding the condition.

    Returns
    -------
    pandas.DataFrame
        The drawn rows with added columns ``split`` and ``label`` (uint8: 0 control, 1 treated),
        ordered by split (in ``counts`` order), then ``source`` and position (the storage order).

    Raises
    ------
    ConfigError
        If a count is odd.
    InputDataError
        If either condition has fewer nuclei than requested, naming both numbers.
    """
    wanted = validate_counts(counts)
    for name, value in wanted.items():
        if value % 2:
            raise ConfigError(f"counts.{name}: found {value}; expected an even number "
                              f"for a 1:1 control/treated balance")
    per_class = {name: value // 2 for name, value in wanted.items()}
    need = sum(per_class.values())
    available = {cls: int((table[by] == cls).sum()) for cls in CLASSES}
    if min(available.values()) < need:
        asked = ", ".join(f"{name} {value}" for name, value in per_class.items())
        raise InputDataError(
            f"requested {need} nuclei per condition ({asked}) but only {available['control']} control and "
            f"{available['treated']} treated nuclei are available after filtering; lower the counts or add fields")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xC1A5]))
    parts = []
    for label, cls in enumerate(CLASSES):
        rows = table[table[by] == cls].sort_values(["source", "label_id"], kind="stable")
        rows = rows.iloc[rng.permutation(len(rows))]
        start = 0
        for name, value in per_class.items():
            part = rows.iloc[start:start + value].copy()
            part["split"], part["label"] = name, np.uint8(label)
            parts.append(part)
            start += value
    drawn = pd.concat(parts, ignore_index=True)
    drawn["_order"] = drawn["split"].map({name: k for k, name in enumerate(wanted)})
    keys = ["_order", "source", "bbox_y0", "bbox_x0", "label_id"]
    keys = [key for key in keys if key in drawn.columns]
    return drawn.sort_values(keys, kind="stable").drop(columns="_order").reset_index(drop=True)
