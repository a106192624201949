"""Datasets on disk: one zarr v3 group per dataset, one subgroup per split, chunked along items.

Layout::

    <dataset>/                      zarr group; attrs: format, kind, item_shape, counts, splits,
                                    sources, normalisation statistics, extra attrs
      train/ label_free     (n, S, S) float32   chunks (chunk, S, S)
             fluorescence   (n, S, S) float32
             mask           (n, S, S) uint8     binary nucleus mask
             instances      (n, S, S) int32     segmentation, optional: the nuclei's instance labels in
                                                the crop, 1..k (0 background), for per-object scores
             positions      (n, 2)    int64     top-left (y, x) of the crop / nucleus box in its mosaic
             source         (n,)      uint16    index into attrs["sources"]
             label          (n,)      uint8     classification only: 0 control, 1 treated
      val/ ...  test/ ...
      items.csv                      optional per-item table (classification: per-nucleus features)

A dataset is written into ``<dataset>.partial`` and renamed into place when complete, so an
interrupted run never leaves something that looks finished. Nothing time-dependent is stored:
the same inputs and seed give the same bytes.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import zarr

from stainworth.errors import InputDataError

FORMAT = "stainworth-dataset/1"
TABLE_NAME = "items.csv"
IMAGE_FIELDS = {"label_free": np.float32, "fluorescence": np.float32, "mask": np.uint8}
INSTANCE_FIELD = "instances"
"""Optional image field of segmentation datasets: instance labels 1..k per crop, 0 background (int32)."""
_IMAGE_DTYPES = {**IMAGE_FIELDS, INSTANCE_FIELD: np.int32}
VECTOR_FIELDS: dict[str, tuple[tuple[int, ...], Any]] = {
    "positions": ((2,), np.int64),
    "source": ((), np.uint16),
    "label": ((), np.uint8),
}


def _child_group(group: zarr.Group, name: str) -> zarr.Group:
    return cast(zarr.Group, group[name])


def _child_array(group: zarr.Group, name: str) -> zarr.Array:
    return cast(zarr.Array, group[name])


def _prepare_target(path: Path) -> Path:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise InputDataError(f"{path}: already exists and is not empty; refusing to overwrite a dataset")
    partial = path.with_name(path.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    return partial


class SplitWriter:
    """Appends items of one split in order, writing whole chunks at a time."""

    def __init__(self, group: zarr.Group, count: int, chunk: int, names: list[str]) -> None:
        self.arrays = {name: _child_array(group, name) for name in names}
        self.count, self.chunk = count, chunk
        self.written = 0
        self._buffer: dict[str, list[np.ndarray]] = {name: [] for name in names}

    def add(self, **item: Any) -> None:
        """Append one item: one array per field (``label_free=(S, S)``, ``source=()``...)."""
        if set(item) != set(self._buffer):
            raise ValueError(f"item fields {sorted(item)} differ from the dataset's {sorted(self._buffer)}")
        for name, value in item.items():
            self._buffer[name].append(np.asarray(value))
        if len(self._buffer["source"]) == self.chunk:
            self.flush()

    def flush(self) -> None:
        """Write buffered items."""
        n = len(self._buffer["source"])
        if n == 0:
            return
        if self.written + n > self.count:
            raise ValueError(f"split holds {self.count} items; {self.written + n} were added")
        for name, values in self._buffer.items():
            self.arrays[name][self.written:self.written + n] = np.stack(values)
            values.clear()
        self.written += n

    def close(self) -> None:
        """Flush and check that exactly the announced number of items was written."""
        self.flush()
        if self.written != self.count:
            raise ValueError(f"split announced {self.count} items but {self.written} were written")


class DatasetWriter:
    """Create a dataset group, fill it split by split, then publish it atomically.

    Used as a context manager, an exception inside the block removes the partial output.

    Parameters
    ----------
    path
        Target directory (must not exist, or be empty).
    kind
        ``"segmentation"`` or ``"classification"``.
    item_shape
        (S, S) of every image item.
    counts
        Items per split, in storage order.
    chunk
        Items per chunk along the first axis.
    labelled
        Whether items carry a class ``label``.
    instances
        Whether items carry ``instances`` (instance labels of the nuclei in the crop).
    """

    def __init__(self, path: str | Path, *, kind: str, item_shape: tuple[int, int],
                 counts: Mapping[str, int], chunk: int = 64, labelled: bool = False, instances: bool = False) -> None:
        self.path = Path(path)
        self.partial = _prepare_target(self.path)
        self.group = zarr.open_group(str(self.partial), mode="w")
        self.kind, self.item_shape, self.counts = kind, tuple(item_shape), dict(counts)
        self.names = ([*IMAGE_FIELDS] + ([INSTANCE_FIELD] if instances else []) + ["positions", "source"]
                      + (["label"] if labelled else []))
        self.chunk = int(chunk)
        for split, count in self.counts.items():
            sub = self.group.require_group(split)
            for name in self.names:
                if name in _IMAGE_DTYPES:
                    dtype = _IMAGE_DTYPES[name]
                    shape, chunks = (count, *self.item_shape), (self.chunk, *self.item_shape)
                else:
                    tail, dtype = VECTOR_FIELDS[name]
                    shape, chunks = (count, *tail), (max(self.chunk, 1024), *tail)
                sub.create_array(name, shape=shape, chunks=chunks, dtype=dtype, fill_value=0)

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        """Leave nothing half-written: an exception inside the block removes the partial output."""
        if kind is not None:
            self.abort()

    def split(self, name: str) -> SplitWriter:
        """A writer appending the items of split ``name``."""
        return SplitWriter(_child_group(self.group, name), self.counts[name], self.chunk, self.names)

    def arrays(self, name: str) -> dict[str, zarr.Array]:
        """The (partially written) arrays of one split."""
        return {field: _child_array(_child_group(self.group, name), field) for field in self.names}

    def publish(self, *, sources: list[str], stats: Mapping[str, Any] | None = None,
                table: pd.DataFrame | None = None, attrs: Mapping[str, Any] | None = None) -> Dataset:
        """Write the attributes and table, then rename the dataset into place."""
        if table is not None:
            table.to_csv(self.partial / TABLE_NAME, index=False, lineterminator="\n")
        self.group.attrs.update({
            "format": FORMAT, "kind": self.kind, "item_shape": list(self.item_shape),
            "splits": list(self.counts), "counts": self.counts, "sources": list(sources),
            "normalisation": dict(stats or {}), "extra": dict(attrs or {}),
        })
        if self.path.exists():
            self.path.rmdir()
        os.replace(self.partial, self.path)
        return open_dataset(self.path)

    def abort(self) -> None:
        """Remove the partial output."""
        shutil.rmtree(self.partial, ignore_errors=True)


@dataclass
class Dataset:
    """An opened dataset (read-only)."""

    path: Path
    group: zarr.Group
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """``segmentation`` or ``classification``."""
        return str(self.attrs["kind"])

    @property
    def splits(self) -> list[str]:
        """Split names in storage order."""
        return list(self.attrs["splits"])

    @property
    def counts(self) -> dict[str, int]:
        """Items per split."""
        return {k: int(v) for k, v in self.attrs["counts"].items()}

    @property
    def stats(self) -> dict[str, Any]:
        """Normalisation statistics (training split)."""
        return dict(self.attrs.get("normalisation", {}))

    def arrays(self, split: str) -> dict[str, zarr.Array]:
        """The zarr arrays of one split, by field name (read lazily)."""
        if split not in self.splits:
            raise InputDataError(f"{self.path}: no split '{split}'; has {self.splits}")
        sub = _child_group(self.group, split)
        return {name: _child_array(sub, name) for name in sub.array_keys()}

    def table(self) -> pd.DataFrame | None:
        """The per-item table, if the dataset has one."""
        path = self.path / TABLE_NAME
        return pd.read_csv(path) if path.is_file() else None


def open_dataset(path: str | Path) -> Dataset:
    """Open a complete dataset written by :class:`DatasetWriter` or :func:`write_dataset`.

    Raises
    ------
    InputDataError
        If the folder is missing, incomplete or not a stainworth dataset.
    """
    root = Path(path)
    if not (root / "zarr.json").is_file():
        raise InputDataError(f"{root}: no dataset here (missing zarr.json); expected a dataset folder")
    group = zarr.open_group(str(root), mode="r")
    attrs = dict(group.attrs)
    if attrs.get("format") != FORMAT:
        raise InputDataError(f"{root}: format {attrs.get('format')!r}; expected '{FORMAT}'")
    return Dataset(path=root, group=group, attrs=attrs)


def write_dataset(
    group_path: str | Path,
    arrays_by_split: Mapping[str, Mapping[str, np.ndarray]],
    table: pd.DataFrame | None,
    stats: Mapping[str, Any] | None,
    *,
    kind: str,
    sources: list[str] | None = None,
    chunk: int = 64,
    attrs: Mapping[str, Any] | None = None,
) -> Dataset:
    """Write in-memory arrays as a dataset (small datasets and tests; extraction streams instead).

    Parameters
    ----------
    group_path
        Target directory.
    arrays_by_split
        ``{split: {"label_free": (n, S, S), "fluorescence": (n, S, S), "mask": (n, S, S),
        "positions": (n, 2), "source": (n,), ["label": (n,)], ["instances": (n, S, S)]}}``.
    table, stats, attrs
        Per-item table, normalisation statistics and extra attributes to store.
    kind
        ``"segmentation"`` or ``"classification"``.
    sources
        Source names that ``source`` indexes.
    chunk
        Items per chunk.
    """
    first = next(iter(arrays_by_split.values()))
    labelled = "label" in first
    counts = {split: int(np.asarray(arrays["source"]).shape[0]) for split, arrays in arrays_by_split.items()}
    size_y, size_x = np.asarray(first["mask"]).shape[1:3]
    writer = DatasetWriter(group_path, kind=kind, item_shape=(int(size_y), int(size_x)),
                           counts=counts, chunk=chunk, labelled=labelled, instances=INSTANCE_FIELD in first)
    try:
        for split, arrays in arrays_by_split.items():
            for name, target in writer.arrays(split).items():
                target[...] = np.asarray(arrays[name]).astype(target.dtype, copy=False)
        return writer.publish(sources=list(sources or []), stats=stats, table=table, attrs=attrs)
    except BaseException:
        writer.abort()
        raise
