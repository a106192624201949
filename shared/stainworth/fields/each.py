"""One prepare stage's pass over its fields: each reused from the store or made, a progress line each."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np

from stainworth.contracts.fields import FieldInfo
from stainworth.fields.cache import FieldCache, reuse_or_make
from stainworth.progress import Progress

Job = tuple[str, str, Callable[[], FieldInfo]]
"""One field to prepare: its id, its upstream (lineage or acquisition content hash), and how to make it."""


def reuse_or_make_each(cache: FieldCache | None, jobs: Iterable[Job], out_root: Path, progress: Progress, *,
                       reused: str, describe: Callable[[FieldInfo], str]) -> dict[str, FieldInfo]:
    """Every field of ``jobs``, in order, through :func:`~stainworth.fields.cache.reuse_or_make`.

    Parameters
    ----------
    cache
        The stage's published fields (None: every field is made and not published).
    jobs
        ``(field id, upstream, make)`` per field.
    out_root
        The stage output the fields are written into (``<out_root>/fields/<id>/``).
    progress
        Stepped once per field: ``<id>: <reused>`` for a field taken from the cache, else
        ``<id>: <describe(field)>``.
    reused, describe
        The two kinds of progress detail.

    Returns
    -------
    dict
        The fields by id, in the order of ``jobs``.
    """
    fields = {}
    for field_id, upstream, make in jobs:
        fields[field_id], was_reused = reuse_or_make(cache, field_id, upstream, out_root, make)
        progress.step(f"{field_id}: {reused if was_reused else describe(fields[field_id])}")
    return fields


def mean_metrics(fields: Mapping[str, FieldInfo], names: Iterable[str]) -> dict[str, float]:
    """``mean_<name>`` over the fields that report it, for each of ``names`` at least one field reports."""
    result = {}
    for name in names:
        values = [f.metrics[name] for f in fields.values() if name in f.metrics]
        if values:
            result[f"mean_{name}"] = float(np.mean(values))
    return result
