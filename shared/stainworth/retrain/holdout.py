"""A stainer's image quality on the fixed holdout: the test split of the holdout acquisitions' dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stainworth.contracts.stainer import DatasetKind
from stainworth.stages.stain import dataset_folder, read_dataset
from stainworth.stainers.artifact import TrainedStainer
from stainworth.stainers.quality import image_quality, summarise


def holdout_quality(stainer: TrainedStainer, holdout_datasets: str | Path, kind: DatasetKind, *,
                    batch_size: int = 16) -> dict[str, float]:
    """Mean SSIM, PSNR, Pearson (whole image and inside nuclei), MSE, NRMSE over the holdout test split."""
    _, dataset = read_dataset(dataset_folder(holdout_datasets, kind), kind)
    test = dataset.arrays("test")
    label_free, real = np.asarray(test["label_free"][:]), np.asarray(test["fluorescence"][:])
    predicted = stainer.predict(label_free, batch_size=batch_size)
    summary = summarise(image_quality(predicted, real, masks=np.asarray(test["mask"][:])))
    return {metric: float(stats["mean"]) for metric, stats in summary.items()}
