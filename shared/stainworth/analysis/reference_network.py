"""A converged non-linear reference: a task network trained with replicates on the nucleus canvases.

The network is trained as the ``train_task`` stage trains a classification unit, with the project's
own pieces: the canvases are written as a classification dataset
(:func:`stainworth.datasets.storage.write_dataset`), read by :class:`stainworth.tasks.data.TaskBatches`
with a :class:`~stainworth.nets.normalise.PercentileNormaliser` fitted on the training split,
built by :func:`stainworth.tasks.build_task_net` from torch's seed, trained by
:func:`stainworth.tasks.fit.fit_task` with the training settings of a profile (learning rate,
patience, warm-up, plateau schedule, augmentation, bf16), and a training that learned nothing
(:mod:`stainworth.tasks.degenerate`) is retrained with a fresh seed, up to ``max_attempts``.
Replicates differ in initialisation and batch order only. Each replicate's test AUC comes with
DeLong's interval; the replicates are combined by
:func:`stainworth.metrics.combine_replicates` (Obuchowski-Rockette-Hillis, ``df_method="components"``
as the evaluation tables use for one modality) on the DeLong covariance of their test scores.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from stainworth.contracts.task import TaskTrainingConfig
from stainworth.datasets.storage import open_dataset, write_dataset
from stainworth.errors import ConfigError
from stainworth.metrics import combine_replicates, delong_covariance, empirical_auc
from stainworth.metrics.replicates import ReplicateCombination
from stainworth.metrics.roc import AucEstimate
from stainworth.nets.devices import resolve_device
from stainworth.nets.normalise import PercentileNormaliser
from stainworth.tasks import build_task_net
from stainworth.tasks.data import TaskBatches
from stainworth.tasks.degenerate import degenerate_reason, trivial_loss
from stainworth.tasks.fit import fit_task
from stainworth.tasks.fit_plan import TaskFitPlan
from stainworth.tasks.predict import predict_classification

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Training:
    """One replicate: its test AUC and how the training ended."""

    auc: AucEstimate
    scores: np.ndarray
    """(n_test,) test scores."""
    epochs: int
    best_epoch: int
    stopped_early: bool
    attempts: int
    seconds: float
    """Training time (every attempt)."""
    degenerate: str
    """Empty, or why the kept attempt is degenerate (no attempt left)."""


@dataclass(frozen=True)
class NetworkReference:
    """Replicate trainings of one network on one modality and their combination."""

    architecture: str
    trainings: list[Training]
    combined: ReplicateCombination


def replicate_seed(seed: int, replicate: int, attempt: int) -> int:
    """Seed of a replicate's initialisation and batch order (the same for every modality and setting)."""
    return int(np.random.SeedSequence([int(seed), int(replicate), int(attempt), 0x12EF]).generate_state(1)[0])


def write_canvases(folder: Path, images: dict[str, np.ndarray], mask: np.ndarray, label: np.ndarray,
                   split: np.ndarray) -> None:
    """Write (n, S, S) canvases of ``label_free`` and ``fluorescence`` as a classification dataset."""
    arrays = {}
    for name in SPLITS:
        chosen = np.flatnonzero(split == name)
        arrays[name] = {"label_free": images["label_free"][chosen], "fluorescence": images["fluorescence"][chosen],
                        "mask": mask[chosen], "positions": np.zeros((chosen.size, 2), np.int64),
                        "source": np.zeros(chosen.size, np.uint16), "label": label[chosen]}
    write_dataset(folder, arrays, None, None, kind="classification", sources=["phantom"])


def train_replicates(dataset: Path, field: str, training: TaskTrainingConfig, *, architecture: str = "resnet18",
                     replicates: int = 3, max_epochs: int | None = None,
                     log: Callable[[str], None] = print) -> NetworkReference:
    """Train ``replicates`` networks on one field of a classification dataset and score its test split.

    Parameters
    ----------
    dataset
        Folder written by :func:`write_canvases`.
    field
        ``label_free`` or ``fluorescence``.
    training
        Training settings (a profile's ``tasks.classification.training``).
    architecture
        A classification network of the registry.
    replicates
        Trainings (different seeds).
    max_epochs
        Epoch cap (``None``: the profile's for ``architecture``); a lower cap is for quick looks only.
    log
        Receives the per-epoch progress lines.

    Returns
    -------
    NetworkReference

    Raises
    ------
    ConfigError
        Fewer than one replicate or a cap below 1.
    """
    if replicates < 1 or (max_epochs is not None and max_epochs < 1):
        raise ConfigError(f"replicates {replicates}, max_epochs {max_epochs}: expected integers >= 1")
    opened = open_dataset(dataset)
    normaliser = PercentileNormaliser.fit(opened.arrays("train")[field])
    train, val, test = (TaskBatches(opened, name, field, normaliser, batch_size=training.batch_size,
                                    augment=training.augment if name == "train" else "none") for name in SPLITS)
    trainings = [_train_one(train, val, test, training, architecture, replicate, max_epochs, log)
                 for replicate in range(replicates)]
    covariance = delong_covariance(np.stack([t.scores for t in trainings]), test.targets).covariance
    combined = combine_replicates([t.auc.auc for t in trainings], covariance, df_method="components")
    return NetworkReference(architecture=architecture, trainings=trainings, combined=combined)


def _train_one(train: TaskBatches, val: TaskBatches, test: TaskBatches, training: TaskTrainingConfig,
               architecture: str, replicate: int, max_epochs: int | None, log: Callable[[str], None]) -> Training:
    device = resolve_device(training.device)
    trivial = trivial_loss(val.targets)
    seconds = 0.0
    prefix = f"{architecture} {train.field} n={train.size} replicate {replicate + 1}"
    with tempfile.TemporaryDirectory(prefix="stainworth-reference-") as scratch:
        for attempt in range(training.max_attempts):
            seed = replicate_seed(training.seed, replicate, attempt)
            torch.manual_seed(seed)
            net = build_task_net(architecture, in_channels=1, task="classification")
            if training.channels_last:
                net = net.to(memory_format=torch.channels_last)
            net = net.to(device)
            plan = TaskFitPlan.from_config(training, architecture, task="classification", seed=seed,
                                           max_epochs=max_epochs)
            fit = fit_task(net, train, val, Path(scratch) / f"attempt{attempt}", plan, prefix=prefix, log=log)
            seconds += sum(row["seconds"] for row in fit.history)
            reason = degenerate_reason(fit.best, trivial)
            if not reason:
                break
            log(f"{prefix}: attempt {attempt + 1} is degenerate: {reason}")
    scores, labels = predict_classification(net, test, bf16=training.bf16)
    return Training(auc=empirical_auc(scores, labels), scores=scores, epochs=fit.epochs_run,
                    best_epoch=fit.best_epoch, stopped_early=fit.stopped_early, attempts=attempt + 1,
                    seconds=seconds, degenerate=reason)
