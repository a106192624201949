"""Train a stainer on a stainworth dataset (segmentation patches or single nuclei).

The label-free images are the input and the dataset's fluorescence the target. Normalisation
comes from the dataset's training-split statistics (1st and 99.8th percentiles; fitted on the
training split when the dataset has none). For the EfficientUNet, an optional grid over alpha
trains one model per value and keeps the one with the best validation SSIM at its best epoch:
SSIM is the quantity the alphas trade against MSE, and validation losses of different alphas are
not comparable with each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from stainworth.contracts.base import file_sha256
from stainworth.contracts.stainer import StainerTrainConfig
from stainworth.datasets.storage import Dataset
from stainworth.errors import InputDataError
from stainworth.nets.devices import resolve_device
from stainworth.nets.normalise import PercentileNormaliser
from stainworth.nets.parameters import trainable_parameters
from stainworth.stainers.adapters import build_stainer
from stainworth.stainers.artifact import save_stainer
from stainworth.stainers.batches import Augment, PairedBatches
from stainworth.stainers.fit import BEST, FitResult, fit


@dataclass
class TrainedSummary:
    """What :func:`train_stainer` produced."""

    folder: Path
    alpha: float | None
    fit: FitResult
    alpha_search: dict[str, float]
    parameters: int
    device: str
    """Where it trained."""


def dataset_normalisers(dataset: Dataset) -> tuple[PercentileNormaliser, PercentileNormaliser]:
    """Input and target normalisers from the dataset's statistics, or fitted on its training split."""
    stats = dataset.stats
    if stats.get("label_free") and stats.get("fluorescence"):
        return (PercentileNormaliser.from_statistics(stats, "label_free"),
                PercentileNormaliser.from_statistics(stats, "fluorescence"))
    arrays = dataset.arrays("train")
    return PercentileNormaliser.fit(arrays["label_free"]), PercentileNormaliser.fit(arrays["fluorescence"])


def split_batches(dataset: Dataset, split: str, normalisers: tuple[PercentileNormaliser, PercentileNormaliser], *,
                  batch_size: int, limit: int | None, augment: Augment = "none") -> PairedBatches:
    """Batches of one split's (label-free, fluorescence) pairs."""
    arrays = dataset.arrays(split)
    return PairedBatches(arrays["label_free"], arrays["fluorescence"], normalisers, batch_size=batch_size,
                         limit=limit, augment=augment, where=f"{dataset.path} split '{split}'")


def train_stainer(config: StainerTrainConfig, dataset: Dataset, workdir: str | Path, output: str | Path, *,
                  encoder_weights: str | Path | None = None, dataset_hash: str = "",
                  log: Callable[[str], None] = print) -> TrainedSummary:
    """Train (or resume training) and write the stainer folder ``output``.

    Parameters
    ----------
    config
        Architecture and training settings.
    dataset
        An opened dataset with ``train`` and ``val`` splits.
    workdir
        Checkpoints (one sub-folder per alpha); keep it to resume an interrupted training.
    output
        Stainer folder to write (:mod:`stainworth.stainers.artifact`).
    encoder_weights
        Local file of ImageNet encoder weights (EfficientUNet); ``None``: from scratch.
    dataset_hash
        The dataset manifest's content hash (ties checkpoints to their data).
    log
        Progress lines.
    """
    for split in ("train", "val"):
        if dataset.counts.get(split, 0) < 1:
            raise InputDataError(f"{dataset.path}: split '{split}' has {dataset.counts.get(split, 0)} items; "
                                 "expected at least 1 to train a stainer")
    device = resolve_device(config.device)
    normalisers = dataset_normalisers(dataset)
    train = split_batches(dataset, "train", normalisers, batch_size=config.batch_size, limit=config.max_train_items,
                          augment=config.augment)
    val = split_batches(dataset, "val", normalisers, batch_size=config.batch_size, limit=config.max_val_items)
    unet = config.efficientunet
    alphas: list[float | None] = ([None] if config.architecture == "pix2pixhd"
                                  else list(unet.alpha_grid) or [unet.alpha])
    settings = config.model_dump(mode="json", exclude={"max_epochs"}) | {"dataset": dataset_hash}
    results: dict[float | None, FitResult] = {}
    for alpha in alphas:
        torch.manual_seed(config.seed)
        stainer = build_stainer(config, alpha=alpha, encoder_weights=None if encoder_weights is None
                                else str(encoder_weights), device=device)
        label = "gan" if alpha is None else f"alpha-{alpha:g}"
        if len(alphas) > 1:
            log(f"train_stainer: alpha {alpha:g} ({alphas.index(alpha) + 1}/{len(alphas)})")
        results[alpha] = fit(stainer, train, val, Path(workdir) / label, config, alpha=alpha,
                             settings=settings | {"alpha": alpha}, log=log)
    chosen = max(results, key=lambda a: results[a].best["val_ssim"])
    parameters = trainable_parameters(stainer.generator)
    chosen_config = config if chosen is None else config.model_copy(
        update={"efficientunet": unet.model_copy(update={"alpha": chosen, "alpha_grid": []})})
    label = "gan" if chosen is None else f"alpha-{chosen:g}"
    info: dict[str, Any] = {
        "best_epoch": results[chosen].best_epoch, "epochs_run": results[chosen].epochs_run,
        "stopped_early": results[chosen].stopped_early, "history": results[chosen].history,
        "trainable_parameters": parameters, "dataset": dataset_hash, "dataset_kind": dataset.kind,
        "encoder_weights": ("none (trained from scratch)" if encoder_weights is None
                            else f"{Path(encoder_weights).name} sha256:{file_sha256(encoder_weights)}"),
        "alpha_search": {f"{a:g}": r.best["val_ssim"] for a, r in results.items() if a is not None},
        "device": str(device),
    }
    folder = save_stainer(output, Path(workdir) / label / BEST, chosen_config, normalisers, info)
    return TrainedSummary(folder=folder, alpha=chosen, fit=results[chosen], alpha_search=info["alpha_search"],
                          parameters=parameters, device=str(device))
