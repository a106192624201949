"""Learning-rate schedules shared by the training loops: linear warm-up, then reduce-on-plateau.

A function of the validation history alone (:func:`epoch_learning_rate`), so that a training
resumed from its checkpoint (which keeps the history) follows the same rates as an uninterrupted
one, with no scheduler state to save. Reduce-on-plateau as Keras' and torch's
``ReduceLROnPlateau`` (the rate multiplied by a factor after a number of epochs without a lower
validation loss), the schedule CSBDeep trains CARE networks with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class LearningRateSchedule:
    """Warm-up, reduce-on-plateau and the progress early stopping asks for, in both training loops.

    Used by :func:`~stainworth.tasks.fit.fit_task` and :func:`~stainworth.stainers.fit.fit`.
    The defaults: a constant rate, any lower validation loss counts.
    """

    warmup_epochs: int = 0
    """Epochs of linear warm-up from a tenth of the rate (0: none)."""
    plateau_factor: float = 1.0
    """Factor applied after ``plateau_patience`` stale epochs (1: never lowered)."""
    plateau_patience: int = 2
    min_improvement: float = 0.0
    """Relative decrease of the validation loss that restarts early stopping's count of stale
    epochs (:func:`stainworth.nets.training.improves`); the plateau and the best epoch count any decrease."""


def epoch_learning_rate(base: float, schedule: LearningRateSchedule, history: list[dict[str, float]]) -> float:
    """The learning rate of the epoch after ``history`` (rows with ``val_loss``).

    Warm-up: epoch ``e`` (1-based) of ``warmup_epochs`` uses ``base * (0.1 + 0.9 * (e - 1) / warmup_epochs)``.
    Afterwards the rate is ``base`` times ``plateau_factor`` for every run of ``plateau_patience``
    epochs without a new lowest validation loss (counted from the last improvement or reduction).

    Examples
    --------
    >>> rows = [{"val_loss": v} for v in (1.0, 0.9, 0.95, 0.96)]
    >>> epoch_learning_rate(1e-3, LearningRateSchedule(plateau_factor=0.5, plateau_patience=2), rows)
    0.0005
    """
    epoch = len(history) + 1
    if epoch <= schedule.warmup_epochs:
        return base * (0.1 + 0.9 * (epoch - 1) / schedule.warmup_epochs)
    rate, best, stale = base, math.inf, 0
    for row in history:
        if row["val_loss"] < best:
            best, stale = row["val_loss"], 0
            continue
        stale += 1
        if stale >= schedule.plateau_patience and schedule.plateau_factor < 1.0:
            rate, stale = rate * schedule.plateau_factor, 0
    return rate


def set_learning_rate(optimizer: torch.optim.Optimizer, rate: float) -> None:
    """Set every parameter group of ``optimizer`` to ``rate``."""
    for group in optimizer.param_groups:
        group["lr"] = rate
