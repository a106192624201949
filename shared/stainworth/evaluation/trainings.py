"""How every training of an evaluation went, and the headline numbers of its capacity table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from stainworth.contracts.task import SECONDARY_METRIC, VERDICT_METRIC, Task, architecture_slug, network_source
from stainworth.evaluation.tables import sort_rows
from stainworth.evaluation.trained import TrainedUnit
from stainworth.tasks.registry import TASK_NETS


def units_table(units: Sequence[TrainedUnit]) -> pd.DataFrame:
    """How every training went, one row per training in table order (from the unit manifests).

    Columns: ``run``, ``architecture``, ``modality``, ``train_size``, ``subset``, ``replicate``,
    ``capacity``, ``train_items``, ``test_items``, ``epochs_run``, ``best_epoch``,
    ``stopped_early``, ``ended`` (``early_stop``, ``epoch_cap`` or ``degenerate_retrained``),
    ``attempts``, ``degenerate`` (why the kept training is still degenerate; empty when it is not),
    ``init_seed``, the test metric of the task (``test_auc`` or ``test_dice``), ``weights`` (the
    manifest's record of the initial weights), ``study_imagenet`` (the study initialised this
    network from ImageNet weights; false for a network of your own) and ``network_source``
    (``builtin``, or ``user`` for a ``timm:``, ``smp:`` or ``py:`` network).
    """
    rows = []
    for unit in units:
        manifest = unit.manifest
        metric = VERDICT_METRIC[manifest.unit.task]
        rows.append({"run": unit.scores.run, "architecture": manifest.unit.architecture,
                     "modality": manifest.unit.modality, "train_size": manifest.unit.train_size,
                     "subset": manifest.unit.subset, "replicate": manifest.unit.replicate,
                     "capacity": manifest.trainable_parameters, "train_items": manifest.counts.get("train_items"),
                     "test_items": manifest.counts.get("test_items"), "epochs_run": manifest.counts.get("epochs_run"),
                     "best_epoch": manifest.best_epoch, "stopped_early": manifest.stopped_early,
                     "ended": manifest.ended, "attempts": manifest.attempts, "degenerate": manifest.degenerate,
                     "init_seed": manifest.init_seed, f"test_{metric}": manifest.metrics.get(f"test.{metric}"),
                     "weights": manifest.weights, "study_imagenet": _study_imagenet(manifest.unit.architecture),
                     "network_source": network_source(manifest.unit.architecture)})
    table = pd.DataFrame(rows).astype({"train_size": "Int64"})
    return sort_rows(table, ["train_size", "subset", "replicate"])


def _study_imagenet(architecture: str) -> bool:
    spec = TASK_NETS.get(architecture)
    return bool(spec and spec.imagenet)


def sweep_units(units: list[Any], *, capacity_sweep: bool) -> list[Any]:
    """The units of the capacity sweep (no training size) or of the learnable sweep."""
    return [u for u in units if (u.train_size is None) == capacity_sweep]


def headline_metrics(task: Task, tables: dict[str, pd.DataFrame]) -> dict[str, float]:
    """The capacity table's main metric per (architecture, modality), all replicates combined, for the dashboard.

    Segmentation adds its :data:`~stainworth.contracts.task.SECONDARY_METRIC` (the instance AP) where the table
    has it.
    """
    table = tables.get("capacity")
    if table is None:
        return {}
    metrics = [VERDICT_METRIC[task]] + [name for name in [SECONDARY_METRIC.get(task)] if name in table.columns]
    combined = table[table["replicate"].isna()] if "replicate" in table.columns else table
    return {f"{architecture_slug(str(row['architecture']))}.{row['modality']}.{metric}": float(row[metric])
            for _, row in combined.iterrows() for metric in metrics}
