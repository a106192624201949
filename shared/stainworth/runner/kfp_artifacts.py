"""What a unit shows in the Kubeflow dashboard: its test metrics, and for classifiers the ROC curve.

KFP renders a ``Metrics`` artifact's metadata as a table of scalars and a
``ClassificationMetrics`` artifact's ``confidenceMetrics`` as an ROC curve (and its
``confusionMatrix`` as a matrix). Both are filled here from a written ``train_task`` output, so
the dashboard shows exactly the numbers in the unit's manifest and ``scores.csv``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from stainworth.contracts.manifest import read_manifest
from stainworth.contracts.task import SCORES_TABLE, TaskGroupManifest, TaskRunManifest
from stainworth.metrics import roc_curve

ROC_POINTS = 200
"""Most points of an ROC curve kept in an artifact's metadata."""
CLASSES = ("control", "treated")
"""Class names of labels 0 and 1 in the dashboard's confusion matrix."""


class MetricsArtifact(Protocol):
    """A KFP ``Metrics`` output."""

    def log_metric(self, metric: str, value: float) -> None:
        """Set one scalar."""


class ClassificationArtifact(Protocol):
    """A KFP ``ClassificationMetrics`` output."""

    def log_roc_curve(self, fpr: list[float], tpr: list[float], threshold: list[float]) -> None:
        """Set the ROC curve."""

    def log_confusion_matrix(self, categories: list[str], matrix: list[list[int]]) -> None:
        """Set the confusion matrix (rows: truth, columns: prediction)."""


def log_unit_metrics(manifest: TaskRunManifest, metrics: MetricsArtifact, *, prefix: str = "") -> None:
    """Every finite metric of the unit, plus its capacity and training size, as dashboard scalars.

    ``prefix`` starts every name (``"<unit name>."`` when one artifact holds several units).
    """
    values: dict[str, Any] = dict(manifest.metrics)
    values |= {"trainable_parameters": manifest.trainable_parameters, "best_epoch": manifest.best_epoch,
               "train_items": manifest.counts["train_items"], "attempts": manifest.attempts}
    for name, value in sorted(values.items()):
        if np.isfinite(value):
            metrics.log_metric(prefix + name, float(value))


def log_group_metrics(group: TaskGroupManifest, folder: str | Path, metrics: MetricsArtifact) -> list[TaskRunManifest]:
    """:func:`log_unit_metrics` of every unit of a ``train_task`` output; return their manifests.

    A single unit's names are unprefixed; several units' names start with the unit name.
    """
    manifests = [read_manifest(TaskRunManifest, Path(folder) / name) for name in group.units]
    for manifest in manifests:
        log_unit_metrics(manifest, metrics, prefix="" if len(manifests) == 1 else f"{manifest.unit.name}.")
    return manifests


def log_unit_roc(manifest: TaskRunManifest, unit_dir: str | Path, roc: ClassificationArtifact) -> bool:
    """A classifier's test ROC curve and its confusion matrix at the configured threshold; nothing for segmentation.

    Returns whether anything was logged.
    """
    if manifest.unit.task != "classification":
        return False
    table = pd.read_csv(Path(unit_dir) / SCORES_TABLE)
    scores, labels = table["score"].to_numpy(float), table["label"].to_numpy(int)
    fpr, tpr, thresholds = roc_curve(scores, labels, max_points=ROC_POINTS)
    roc.log_roc_curve(fpr.tolist(), tpr.tolist(), thresholds.tolist())
    called = scores >= float(manifest.config["threshold"])
    matrix = [[int(np.sum((labels == truth) & (called == bool(guess)))) for guess in (0, 1)] for truth in (0, 1)]
    roc.log_confusion_matrix(list(CLASSES), matrix)
    return True
