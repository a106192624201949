"""A stainer's image quality on the fixed holdout: the test split of the holdout acquisitions' dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from stainworth.contracts.stainer import DatasetKind
from stainworth.datasets.folders import dataset_folder, read_dataset
from stainworth.stainers.artifact import TrainedStainer
from stainworth.stainers.quality import image_quality, summarise


def holdout_quality(stainer: TrainedStainer, holdout_datasets: str | Path, kind: DatasetKind, *,
                    batch_size: int = 16) -> dict[str, dict[str, float]]:
    """SSIM, PSNR, Pearson (whole image and inside nuclei), MSE, NRMSE over the holdout test split.

    Returns
    -------
    dict
        ``{metric: {"mean", "std", "median", "p5", "p95", "n"}}`` (:func:`~stainworth.stainers.quality.summarise`).
    """
    _, dataset = read_dataset(dataset_folder(holdout_datasets, kind), kind)
    test = dataset.arrays("test")
    label_free, real = np.asarray(test["label_free"][:]), np.asarray(test["fluorescence"][:])
    predicted = stainer.predict(label_free, batch_size=batch_size)
    return summarise(image_quality(predicted, real, masks=np.asarray(test["mask"][:])))


def means(summary: dict[str, dict[str, float]]) -> dict[str, float]:
    """``{metric: mean}`` of a :func:`holdout_quality` summary."""
    return {metric: float(stats["mean"]) for metric, stats in summary.items()}


def write_quality_table(summary: dict[str, dict[str, float]], path: str | Path) -> Path:
    """The summary as CSV, one row per metric (the version's image-quality report)."""
    rows = [{"metric": metric, **stats} for metric, stats in summary.items()]
    pd.DataFrame(rows).to_csv(path, index=False, lineterminator="\n")
    return Path(path)
