"""A converged non-linear reference: a task network trained with replicates on the nucleus canvases.

The network is trained as the ``train_task`` stage trains a classification unit, with the project's
own pieces: the canvases are written as a classification dataset
(:func:`stainworth.datasets.storage.write_dataset`), read by :class:`stainworth.tasks.data.TaskBatches`
with a :class:`~stainworth.nets.normalise.PercentileNormaliser` fitted on the training split,
built by :func:`stainworth.tasks.build_task_net` from torch's seed, trained by
:func:`stainworth.tasks.fit.fit_task` with the training settings of a profile (learning rate,
patience, warm-up, plateau schedule, augmentation, bf16), and a training that learned nothing
(:mod:`stainworth.tasks.degenerate`) is retrained with a fresh seed, up to ``max_attempts``.
Replicates differ in initialisation and batch order only. A replicate's outcome (test scores, epochs,
how it ended) can be kept in a folder of :class:`TrainingCache` files, keyed by everything that
decides it, so that an interrupted table resumes where it stopped. Each replicate's test AUC comes with
DeLong's interval; the replicates are combined by
:func:`stainworth.metrics.combine_replicates` (Obuchowski-Rockette-Hillis, ``df_method="components"``
as the evaluation tables use for one modality) on the DeLong covariance of their test scores.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from stainworth.contracts.task import TaskTrainingConfig
from stainworth.datasets.storage import open_dataset, write_dataset
from stainworth.errors import ConfigError, InputDataError
from stainworth.metrics import combine_replicates, delong_covariance, empirical_auc
from stainworth.metrics.replicates import ReplicateCombination
from stainworth.metrics.roc import AucEstimate
from stainworth.nets.devices import resolve_device
from stainworth.nets.normalise import PercentileNormaliser
from stainworth.nets.training import fingerprint
from stainworth.store.local_files import atomic_local_file
from stainworth.tasks import build_task_net
from stainworth.tasks.data import TaskBatches
from stainworth.tasks.degenerate import degenerate_reason, trivial_loss
from stainworth.tasks.fit import fit_task
from stainworth.tasks.fit_plan import TaskFitPlan
from stainworth.tasks.predict import predict_classification

SPLITS = ("train", "val", "test")
CACHE_FORMAT = "stainworth-reference-training/1"


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


@dataclass(frozen=True)
class TrainingCache:
    """Finished replicate trainings kept in ``folder``, one ``<key>.npz`` each.

    A training is deterministic given its images, its settings and its seeds, so a file found under
    its key is its outcome: test scores, epochs, best epoch, how it ended, attempts and training
    time. Files are written whole (:func:`~stainworth.store.local_files.atomic_local_file`), so an
    interrupted run leaves finished trainings and nothing half-written. Delete the folder to train everything again.
    """

    folder: Path
    images_key: str
    """:func:`stainworth.analysis.reference.images_key` of the canvases the trainings see."""

    def key(self, field: str, training: TaskTrainingConfig, *, architecture: str, replicate: int,
            max_epochs: int | None) -> str:
        """SHA-256 of everything that decides one replicate's outcome."""
        return fingerprint({"format": CACHE_FORMAT, "images": self.images_key, "field": field,
                            "training": training.model_dump(mode="json"), "architecture": architecture,
                            "replicate": replicate, "max_epochs": max_epochs, "torch": torch.__version__})

    def load(self, key: str, n_test: int) -> dict | None:
        """The stored outcome under ``key`` (``scores`` and the scalars of :class:`Training`), or ``None``.

        Raises
        ------
        InputDataError
            The file cannot be read, or holds another key or another number of test scores.
        """
        path = self.folder / f"{key}.npz"
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as stored:
                scores, meta = stored["scores"], json.loads(str(stored["meta"]))
        except (OSError, ValueError, KeyError) as error:
            raise InputDataError(f"training cache {path}: cannot be read ({error}); expected a file this command "
                                 f"wrote (delete it to train again)") from None
        if meta.get("key") != key or scores.shape != (n_test,):
            raise InputDataError(f"training cache {path}: holds key {meta.get('key')!r} and {scores.size} test scores; "
                                 f"expected key {key!r} and {n_test} (delete it to train again)")
        return {"scores": scores, **{name: meta[name] for name in
                                     ("epochs", "best_epoch", "stopped_early", "attempts", "seconds", "degenerate")}}

    def store(self, key: str, training: Training) -> None:
        """Keep one finished training under ``key`` (written whole)."""
        meta = {"key": key, "epochs": training.epochs, "best_epoch": training.best_epoch,
                "stopped_early": training.stopped_early, "attempts": training.attempts,
                "seconds": training.seconds, "degenerate": training.degenerate}
        with atomic_local_file(self.folder / f"{key}.npz") as stream:
            np.savez(stream, scores=training.scores, meta=np.array(json.dumps(meta)))


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
                     log: Callable[[str], None] = print, cache: TrainingCache | None = None) -> NetworkReference:
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
    cache
        Where finished replicates are kept and looked up (``None``: every replicate is trained).

    Returns
    -------
    NetworkReference

    Raises
    ------
    ConfigError
        Fewer than one replicate or a cap below 1.
    InputDataError
        A cache file that cannot be read or does not belong to its key.
    """
    if replicates < 1 or (max_epochs is not None and max_epochs < 1):
        raise ConfigError(f"replicates {replicates}, max_epochs {max_epochs}: expected integers >= 1")
    opened = open_dataset(dataset)
    normaliser = PercentileNormaliser.fit(opened.arrays("train")[field])
    train, val, test = (TaskBatches(opened, name, field, normaliser, batch_size=training.batch_size,
                                    augment=training.augment if name == "train" else "none",
                                    min_epoch_items=training.min_epoch_items if name == "train" else None)
                        for name in SPLITS)
    trainings = []
    for replicate in range(replicates):
        if cache is None:
            trainings.append(_train_one(train, val, test, training, architecture, replicate, max_epochs, log))
            continue
        key = cache.key(field, training, architecture=architecture, replicate=replicate, max_epochs=max_epochs)
        stored = cache.load(key, test.size)
        if stored is not None:
            log(f"{architecture} {field} replicate {replicate + 1}: read from {cache.folder / key}.npz")
            scores = stored.pop("scores")
            trainings.append(Training(auc=empirical_auc(scores, test.targets), scores=scores, **stored))
            continue
        trainings.append(_train_one(train, val, test, training, architecture, replicate, max_epochs, log))
        cache.store(key, trainings[-1])
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
