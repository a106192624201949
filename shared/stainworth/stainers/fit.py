"""The training loop shared by both stainers: validation, early stopping, best weights, resumable checkpoints.

After every epoch the generator is scored on the validation split (the hybrid loss and SSIM in
normalised intensity). A lower validation loss makes that epoch the best one and its generator
weights are written to ``best.safetensors``; training stops when ``patience`` epochs pass without
a lower validation loss, or at ``max_epochs``. The checkpoint ``checkpoint.pt`` (every network and
optimiser state, the history and the early-stopping state) is replaced atomically at the end of
every epoch and loaded with ``weights_only=True``. Batches depend only on (seed, epoch) and torch's
random state is re-seeded from (seed, epoch) at the start of each epoch, so a training resumed
from its checkpoint ends exactly where an uninterrupted one does.

A NaN or Inf training loss stops training with :class:`~stainworth.errors.TrainingError`; the
checkpoint and best weights of the last finished epoch are left as they were. Seeds, checkpoints,
early stopping and best weights are the shared machinery of :mod:`stainworth.nets.training`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stainworth.contracts.stainer import StainerTrainConfig
from stainworth.errors import TrainingError
from stainworth.nets.devices import autocast, module_device
from stainworth.nets.schedule import LearningRateSchedule, epoch_learning_rate, set_learning_rate
from stainworth.nets.training import (
    BEST,
    CHECKPOINT,
    epoch_seed,
    fingerprint,
    not_finite_note,
    resume,
    save_checkpoint,
    save_weights,
)
from stainworth.progress import format_seconds
from stainworth.stainers.adapters import Stainer
from stainworth.stainers.batches import PairedBatches
from stainworth.stainers.losses import HybridLoss, ssim

__all__ = ["BEST", "CHECKPOINT", "FitResult", "fit", "validate"]


@dataclass
class FitResult:
    """How a training went."""

    best_epoch: int
    """1-based epoch whose generator is in ``best.safetensors``."""
    epochs_run: int
    stopped_early: bool
    history: list[dict[str, float]] = field(default_factory=list)
    """One row per epoch: ``epoch``, mean training losses, ``val_loss``, ``val_ssim``, ``learning_rate_scale``
    (the configured rates times this), ``seconds``."""

    @property
    def best(self) -> dict[str, float]:
        """The history row of the best epoch."""
        return self.history[self.best_epoch - 1]


def validate(generator: torch.nn.Module, batches: PairedBatches, *, alpha: float, bf16: bool = False
             ) -> dict[str, float]:
    """Mean hybrid loss and SSIM of the generator over a split (normalised intensities)."""
    loss_fn, losses, scores, sizes = HybridLoss(alpha), [], [], []
    device = module_device(generator)
    generator.eval()
    with torch.no_grad():
        for inputs, targets in batches.epoch(0, seed=0, shuffle=False):
            inputs, targets = inputs.to(device), targets.to(device)
            with autocast(bf16, device):
                prediction = generator(inputs).float()
            losses.append(float(loss_fn(prediction, targets)))
            scores.append(float(ssim(prediction, targets).mean()))
            sizes.append(len(targets))
    weights = np.asarray(sizes, dtype=np.float64)
    return {"val_loss": float(np.average(losses, weights=weights)), "val_ssim": float(np.average(scores,
                                                                                               weights=weights))}


def fit(stainer: Stainer, train: PairedBatches, val: PairedBatches, workdir: str | Path, config: StainerTrainConfig,
        *, alpha: float | None = None, settings: dict[str, Any] | None = None,
        log: Callable[[str], None] = print) -> FitResult:
    """Train until early stopping or ``config.max_epochs``; resume from ``workdir/checkpoint.pt`` if present.

    Parameters
    ----------
    stainer
        A freshly built stainer (its weights are replaced by the checkpoint's when resuming).
    train, val
        Training and validation batches.
    workdir
        Folder of ``checkpoint.pt`` and ``best.safetensors``.
    config
        Its ``max_epochs`` (budget), ``patience`` (epochs without a lower validation loss),
        ``seed`` (data order), ``bf16`` (autocast for validation; training steps follow the
        stainer's own setting) and ``min_improvement`` (relative decrease of the validation loss
        that restarts the patience count, :func:`~stainworth.nets.training.improves`; the lowest
        loss always sets the best epoch), ``plateau_factor`` and ``plateau_patience`` (every
        optimiser's rate lowered on each plateau of the validation loss,
        :func:`~stainworth.nets.schedule.epoch_learning_rate`; the rate of each epoch is in its
        history row as ``learning_rate_scale``) are used here.
    alpha
        Weight of MSE in the validation loss; None: ``config.efficientunet.alpha``.
    settings
        Everything else that must match for a checkpoint to be resumed (configuration, data
        hashes); ``max_epochs`` may differ.
    log
        Receives one progress line per epoch.

    Raises
    ------
    TrainingError
        On a NaN/Inf loss (the last good checkpoint is kept), or a checkpoint that cannot be resumed.
    """
    folder = Path(workdir)
    folder.mkdir(parents=True, exist_ok=True)
    checkpoint = folder / CHECKPOINT
    alpha = config.efficientunet.alpha if alpha is None else alpha
    max_epochs, patience, seed = config.max_epochs, config.patience, config.seed
    min_improvement = config.min_improvement
    schedule = LearningRateSchedule(plateau_factor=config.plateau_factor, plateau_patience=config.plateau_patience)
    plateau = {"plateau": [config.plateau_factor, config.plateau_patience]} if config.plateau_factor < 1 else {}
    expected = fingerprint({"settings": settings or {}, "seed": seed, "patience": patience, "alpha": alpha}
                           | ({"min_improvement": min_improvement} if min_improvement else {}) | plateau)
    optimizers = [part for part in stainer.parts().values() if isinstance(part, torch.optim.Optimizer)]
    base_rates = [optimizer.param_groups[0]["lr"] for optimizer in optimizers]  # before a checkpoint's are loaded
    state = resume(checkpoint, stainer.parts(), expected)
    if state.epoch:
        log(f"train_stainer: resuming after epoch {state.epoch} from {checkpoint}")
    started, first = time.perf_counter(), state.epoch
    while state.running(max_epochs, patience):
        epoch = state.epoch + 1
        scale = epoch_learning_rate(1.0, schedule, state.history)
        for optimizer, base in zip(optimizers, base_rates, strict=True):
            set_learning_rate(optimizer, base * scale)
        row = _train_epoch(stainer, train, epoch, seed, checkpoint)
        row |= validate(stainer.generator, val, alpha=alpha, bf16=config.bf16) | {"learning_rate_scale": scale}
        if state.record(row, min_improvement):
            save_weights(folder / BEST, stainer.generator)
        save_checkpoint(checkpoint, stainer.parts(), state)
        elapsed = time.perf_counter() - started
        eta = elapsed / (epoch - first) * (max_epochs - epoch)
        log(f"train_stainer epoch {epoch}/{max_epochs} loss {row['loss']:.4f} val_loss {row['val_loss']:.4f} "
            f"val_ssim {row['val_ssim']:.3f} (elapsed {format_seconds(elapsed)}, ETA at most {format_seconds(eta)})")
    return FitResult(best_epoch=state.best_epoch, epochs_run=state.epoch, stopped_early=state.stale >= patience,
                     history=list(state.history))


def _train_epoch(stainer: Stainer, train: PairedBatches, epoch: int, seed: int, checkpoint: Path) -> dict[str, float]:
    torch.manual_seed(epoch_seed(seed, epoch))
    started = time.perf_counter()
    totals: dict[str, float] = {}
    count = 0
    for step, (inputs, targets) in enumerate(train.epoch(epoch, seed=seed), start=1):
        losses = stainer.train_step(inputs, targets)
        if not all(math.isfinite(v) for v in losses.values()):
            raise TrainingError(f"stainer training: loss {losses} is not finite at epoch {epoch}, batch {step}; "
                                f"{not_finite_note(epoch, checkpoint)} (lower the learning rate or check the data)")
        for name, value in losses.items():
            totals[name] = totals.get(name, 0.0) + value * len(inputs)
        count += len(inputs)
    return {"epoch": float(epoch), **{name: total / count for name, total in totals.items()},
            "seconds": time.perf_counter() - started}
