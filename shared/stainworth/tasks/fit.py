"""Training one task network: BCE with logits, Adam, early stopping, resumable, timed.

The study trains every task network with the sigmoid + binary cross-entropy of its Eq. 3, here
``BCEWithLogitsLoss`` on the logits (numerically stable), and Adam. After every epoch the network
is scored on the validation split: the loss, and Dice (segmentation: mean of per-image Dice at a
0.5 probability threshold) or the empirical AUC (classification). The epoch with the lowest
validation loss is the best one; training stops after ``patience`` epochs without a lower one,
or at ``max_epochs``. Early stopping watches the loss rather than Dice or AUC because the loss
is smooth and defined on every split, while AUC needs two cases of each class (it is NaN
otherwise, and never stops training). With ``min_improvement`` > 0 early stopping counts a lower
loss as progress only when it is lower by that fraction than the last one that counted
(:func:`stainworth.nets.training.improves`): a network whose loss creeps down by a tenth of a percent
per epoch has converged for every purpose of a comparison, and stops instead of running to its
cap. The best epoch and the plateau still follow every decrease (a threshold there lowered the
learning rate of slowly learning networks so early that they stalled).

The learning rate of an epoch is a function of the history so far
(:func:`~stainworth.nets.schedule.epoch_learning_rate`):
an optional linear warm-up from a tenth of ``learning_rate`` over ``warmup_epochs`` (during which
early stopping does not count stale epochs: the validation loss of a network whose learning rate
is still rising says little about where it will end), then
reduce-on-plateau: multiplied by ``plateau_factor`` whenever ``plateau_patience`` epochs have
passed without a lower validation loss since the last improvement or reduction. Being a function
of the stored history, it is the same in a resumed training. Each validation also records the
standard deviation of the predicted probabilities (``val_output_sd``), from which
:mod:`stainworth.tasks.degenerate` tells a network that learned nothing.

Checkpoints, per-epoch seeds and best weights are those of :mod:`stainworth.nets.training`: a
training interrupted and resumed from ``workdir`` ends bit-identical to an uninterrupted one (on
the CPU), and a NaN/Inf training loss stops with :class:`~stainworth.errors.TrainingError`
before the optimiser steps, keeping the last good checkpoint.

Time spent waiting for the next training batch and time spent in the optimisation step are
measured separately (``data_seconds``, ``step_seconds``): their ratio tells whether the data
path or the network bounds a run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stainworth.errors import ConfigError, TrainingError
from stainworth.metrics import empirical_auc
from stainworth.metrics.segmentation import mask_counts, scores_from_counts
from stainworth.nets.devices import autocast, module_device
from stainworth.nets.schedule import epoch_learning_rate, set_learning_rate
from stainworth.nets.training import (
    BEST,
    CHECKPOINT,
    Parts,
    TrainingState,
    epoch_seed,
    fingerprint,
    load_weights,
    not_finite_note,
    resume,
    save_checkpoint,
    save_final_state,
    save_weights,
)
from stainworth.progress import format_seconds
from stainworth.tasks.data import TaskBatches
from stainworth.tasks.fit_plan import TaskFitPlan
from stainworth.tasks.predict import outputs

METRIC = {"segmentation": "val_dice", "classification": "val_auc"}
"""The validation metric of each task, as named in the history."""


@dataclass
class TaskFitResult:
    """How a task-network training went."""

    best_epoch: int
    """1-based epoch whose weights are in ``weights``."""
    epochs_run: int
    stopped_early: bool
    weights: Path
    """The best epoch's weights (safetensors)."""
    history: list[dict[str, float]] = field(default_factory=list)
    """One row per epoch: ``epoch``, ``loss``, ``val_loss``, ``val_dice`` or ``val_auc``, ``seconds``,
    ``data_seconds``, ``step_seconds``, ``learning_rate``, ``val_output_sd``."""

    @property
    def best(self) -> dict[str, float]:
        """The history row of the best epoch."""
        return self.history[self.best_epoch - 1]

    @property
    def data_seconds(self) -> float:
        """Time spent waiting for training batches, over every epoch (resumed ones included)."""
        return float(sum(row["data_seconds"] for row in self.history))

    @property
    def step_seconds(self) -> float:
        """Time spent in training steps (forward, loss, backward, optimiser), over every epoch."""
        return float(sum(row["step_seconds"] for row in self.history))

    @property
    def data_share(self) -> float:
        """Share of training time spent waiting for data: ``data / (data + step)`` (NaN before any epoch)."""
        total = self.data_seconds + self.step_seconds
        return self.data_seconds / total if total > 0 else math.nan


def fit_task(net: torch.nn.Module, train: TaskBatches, val: TaskBatches, workdir: str | Path, plan: TaskFitPlan, *,
             settings: dict[str, Any] | None = None, log: Callable[[str], None] = print, prefix: str = "train_task",
             restore_best: bool = True) -> TaskFitResult:
    """Train ``net`` until early stopping or ``plan.max_epochs``; resume from ``workdir/checkpoint.pt`` if present.

    Parameters
    ----------
    net
        A freshly built task network on the device it trains on (its weights are replaced by the
        checkpoint's when resuming).
    train, val
        Training batches (shuffled and augmented per epoch) and validation batches.
    workdir
        Folder of ``checkpoint.pt`` and ``best.safetensors``.
    plan
        Task, budget, patience, seed, learning rate and its schedule, precision
        (:class:`~stainworth.tasks.fit_plan.TaskFitPlan`).
    settings
        Everything else that must match for a checkpoint to be resumed (network name, modality,
        dataset hashes, subset); the plan and the batches' :meth:`~TaskBatches.describe` are added.
        ``max_epochs`` may differ.
    log
        Receives one progress line per epoch.
    prefix
        Start of every progress line, e.g. ``"train_task run 3/60 unet1 fluorescence n=100"``.
    restore_best
        Load the best epoch's weights into ``net`` before returning (otherwise it keeps the
        last epoch's; a training resumed from a finished state always returns the best).

    Notes
    -----
    A training that stops early leaves ``checkpoint.pt`` as its state alone
    (:func:`~stainworth.nets.training.save_final_state`); resuming it trains nothing and loads
    ``best.safetensors``. One that reaches ``max_epochs`` keeps its full checkpoint, so that a
    larger ``max_epochs`` continues it.

    Raises
    ------
    ConfigError
        Splits of another task than the plan's.
    TrainingError
        A NaN/Inf training loss (the last good checkpoint is kept), or a checkpoint of another
        configuration.
    """
    for batches in (train, val):
        if batches.task != plan.task:
            raise ConfigError(f"{batches.where}: a {batches.task} split; the task is {plan.task}")
    folder = Path(workdir)
    folder.mkdir(parents=True, exist_ok=True)
    checkpoint = folder / CHECKPOINT
    optimizer = torch.optim.Adam(net.parameters(), lr=plan.learning_rate, fused=True)  # one kernel per step: 3x faster
    parts: Parts = {"net": net, "optimizer": optimizer}
    state = resume(checkpoint, parts, _fingerprint(plan, settings, train, val))
    final = state.final
    if final and not _stopping(state, plan):
        raise TrainingError(f"{checkpoint}: the state of a finished training, which stopped early, cannot go on; "
                            "delete it to train again")
    if state.epoch:
        log(f"{prefix}: resuming after epoch {state.epoch} from {checkpoint}")
    started, first = time.perf_counter(), state.epoch
    while state.epoch < plan.max_epochs and not _stopping(state, plan):
        epoch = state.epoch + 1
        rate = epoch_learning_rate(plan.learning_rate, plan.schedule, state.history)
        set_learning_rate(optimizer, rate)
        row = _train_epoch(net, optimizer, train, epoch, plan,
                           lambda e, s: _not_finite(prefix, e, s, checkpoint))
        row |= validate_task(net, val, bf16=plan.bf16) | {"learning_rate": rate}
        row["seconds"] = row.pop("train_seconds") + row["val_seconds"]
        if state.record(row, plan.schedule.min_improvement):
            save_weights(folder / BEST, net)
        save_checkpoint(checkpoint, parts, state)
        log(_progress_line(prefix, row, epoch, plan.max_epochs, time.perf_counter() - started, epoch - first))
    stopped = _stopping(state, plan)
    if stopped and not final:
        save_final_state(checkpoint, state)
    if (restore_best or final) and state.best_epoch:
        load_weights(folder / BEST, net)
    return TaskFitResult(best_epoch=state.best_epoch, epochs_run=state.epoch, stopped_early=stopped,
                         weights=folder / BEST, history=list(state.history))


def _fingerprint(plan: TaskFitPlan, settings: dict[str, Any] | None, train: TaskBatches, val: TaskBatches) -> str:
    """What a checkpoint must match to be resumed: everything but the epoch budget."""
    return fingerprint({"settings": settings or {}, "seed": plan.seed, "patience": plan.patience, "task": plan.task,
                        "learning_rate": plan.learning_rate, "bf16": plan.bf16, "train": train.describe(),
                        "val": val.describe(), "schedule": asdict(plan.schedule)})


def _stopping(state: TrainingState, plan: TaskFitPlan) -> bool:
    """Early stopping: ``patience`` epochs without a lower validation loss, counted after the warm-up."""
    return min(state.stale, state.epoch - plan.schedule.warmup_epochs) >= plan.patience


def validate_task(net: torch.nn.Module, batches: TaskBatches, *, bf16: bool = False) -> dict[str, float]:
    """Mean BCE loss, the task's metric (``val_dice`` or ``val_auc``) and ``val_output_sd`` over a split.

    ``val_output_sd`` is the standard deviation of the predicted probabilities over every item
    (classification) or pixel (segmentation): near 0 for a network whose output is constant.
    ``val_seconds`` is the time taken.
    """
    started = time.perf_counter()
    loss_sum, elements = 0.0, 0
    moments = np.zeros(3)
    counts: list[tuple[np.ndarray, ...]] = []
    scores: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    for logits, targets in outputs(net, batches, bf16=bf16):
        loss_sum += float(torch.nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="sum"))
        elements += targets.numel()
        probability = torch.sigmoid(logits).numpy()
        finite = np.nan_to_num(probability.astype(np.float64))
        moments += (finite.size, finite.sum(), np.square(finite).sum())
        if batches.task == "segmentation":
            counts.append(mask_counts(np.nan_to_num(probability[:, 0]), targets[:, 0].numpy().astype(bool)))
        else:
            scores.append(probability.astype(np.float64))
            labels.append(targets.numpy())
    if batches.task == "segmentation":
        metric = float(scores_from_counts(*(np.concatenate(c) for c in zip(*counts, strict=True)))["dice"].mean())
    else:
        metric = _auc(np.concatenate(scores), np.concatenate(labels))
    mean = moments[1] / moments[0]
    spread = math.sqrt(max(moments[2] / moments[0] - mean * mean, 0.0))
    return {"val_loss": loss_sum / elements, METRIC[batches.task]: metric, "val_output_sd": spread,
            "val_seconds": time.perf_counter() - started}


def _auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Empirical AUC, or NaN when it is undefined (fewer than 2 cases of a class, non-finite scores)."""
    positives = int(np.count_nonzero(labels == 1))
    if min(positives, labels.size - positives) < 2 or not np.all(np.isfinite(scores)):
        return math.nan
    return float(empirical_auc(scores, labels).auc)


def _not_finite(prefix: str, epoch: int, step: int, checkpoint: Path) -> TrainingError:
    return TrainingError(f"{prefix}: loss is not finite at epoch {epoch}, batch {step}; "
                         f"{not_finite_note(epoch, checkpoint)} (lower the learning rate or check the data)")


def _timed(batches: Iterator[tuple[torch.Tensor, torch.Tensor]]
           ) -> Iterator[tuple[float, tuple[torch.Tensor, torch.Tensor]]]:
    """The batches, each with the seconds spent obtaining it."""
    while True:
        started = time.perf_counter()
        batch = next(batches, None)
        if batch is None:
            return
        yield time.perf_counter() - started, batch


def _train_epoch(net: torch.nn.Module, optimizer: torch.optim.Optimizer, train: TaskBatches, epoch: int,
                 plan: TaskFitPlan, failure: Callable[[int, int], TrainingError]) -> dict[str, float]:
    seed, bf16 = plan.seed, plan.bf16
    torch.manual_seed(epoch_seed(seed, epoch))
    net.train()
    device = module_device(net)
    started = time.perf_counter()
    total = waiting = stepping = 0.0
    count = 0
    for step, (wait, (inputs, targets)) in enumerate(_timed(train.epoch(epoch, seed=seed)), start=1):
        step_started = time.perf_counter()
        inputs, targets = inputs.to(device), targets.to(device)
        optimizer.zero_grad(set_to_none=True)
        with autocast(bf16, device):
            logits = net(inputs)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), targets)
        if not math.isfinite(float(loss.detach())):
            raise failure(epoch, step)
        loss.backward()
        optimizer.step()
        stepping += time.perf_counter() - step_started
        waiting += wait
        total += float(loss.detach()) * len(inputs)
        count += len(inputs)
    return {"epoch": float(epoch), "loss": total / count, "data_seconds": waiting, "step_seconds": stepping,
            "train_seconds": time.perf_counter() - started}


def _progress_line(prefix: str, row: dict[str, float], epoch: int, max_epochs: int, elapsed: float, done: int) -> str:
    name = "val_dice" if "val_dice" in row else "val_auc"
    share = row["data_seconds"] / max(row["data_seconds"] + row["step_seconds"], 1e-12)
    eta = elapsed / done * (max_epochs - epoch)
    return (f"{prefix} epoch {epoch}/{max_epochs} loss {row['loss']:.4f} val_loss {row['val_loss']:.4f} "
            f"{name} {row[name]:.3f} (data wait {share:.0%}, elapsed {format_seconds(elapsed)}, "
            f"ETA at most {format_seconds(eta)})")
