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
checkpoint and best weights of the last finished epoch are left as they were.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from stainworth.contracts.base import canonical_json
from stainworth.errors import TrainingError
from stainworth.progress import format_seconds
from stainworth.stainers.adapters import Stainer, autocast
from stainworth.stainers.batches import PairedBatches
from stainworth.stainers.losses import HybridLoss, ssim

CHECKPOINT = "checkpoint.pt"
BEST = "best.safetensors"


@dataclass
class FitResult:
    """How a training went."""

    best_epoch: int
    """1-based epoch whose generator is in ``best.safetensors``."""
    epochs_run: int
    stopped_early: bool
    history: list[dict[str, float]] = field(default_factory=list)
    """One row per epoch: ``epoch``, mean training losses, ``val_loss``, ``val_ssim``, ``seconds``."""

    @property
    def best(self) -> dict[str, float]:
        """The history row of the best epoch."""
        return self.history[self.best_epoch - 1]


def _epoch_seed(seed: int, epoch: int) -> int:
    return int(np.random.SeedSequence([int(seed), int(epoch), 0x57A1]).generate_state(1)[0])


def validate(generator: torch.nn.Module, batches: PairedBatches, *, alpha: float, bf16: bool = False
             ) -> dict[str, float]:
    """Mean hybrid loss and SSIM of the generator over a split (normalised intensities)."""
    loss_fn, losses, scores, sizes = HybridLoss(alpha), [], [], []
    generator.eval()
    with torch.no_grad():
        for inputs, targets in batches.epoch(0, seed=0, shuffle=False):
            with autocast(bf16):
                prediction = generator(inputs).float()
            losses.append(float(loss_fn(prediction, targets)))
            scores.append(float(ssim(prediction, targets).mean()))
            sizes.append(len(targets))
    weights = np.asarray(sizes, dtype=np.float64)
    return {"val_loss": float(np.average(losses, weights=weights)), "val_ssim": float(np.average(scores,
                                                                                               weights=weights))}


def _fingerprint(settings: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(settings).encode()).hexdigest()


def _save_checkpoint(path: Path, stainer: Stainer, state: dict[str, Any]) -> None:
    payload = {name: part.state_dict() for name, part in stainer.parts().items()} | {"state": state}
    temporary = path.with_suffix(".tmp")
    torch.save(payload, temporary)
    os.replace(temporary, path)


def _load_checkpoint(path: Path, stainer: Stainer, fingerprint: str) -> dict[str, Any]:
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable checkpoint gets the same one line
        raise TrainingError(f"{path}: unreadable checkpoint ({type(error).__name__}); "
                            "delete it to start over") from None
    state = payload.get("state", {})
    if state.get("fingerprint") != fingerprint:
        raise TrainingError(f"{path}: checkpoint of a different training configuration or data; "
                            "delete it or use another output folder")
    for name, part in stainer.parts().items():
        part.load_state_dict(payload[name])
    return dict(state)


def fit(stainer: Stainer, train: PairedBatches, val: PairedBatches, workdir: str | Path, *, max_epochs: int,
        patience: int, seed: int, alpha: float = 0.9, bf16: bool = False, settings: dict[str, Any] | None = None,
        log: Callable[[str], None] = print) -> FitResult:
    """Train until early stopping or ``max_epochs``; resume from ``workdir/checkpoint.pt`` if present.

    Parameters
    ----------
    stainer
        A freshly built stainer (its weights are replaced by the checkpoint's when resuming).
    train, val
        Training and validation batches.
    workdir
        Folder of ``checkpoint.pt`` and ``best.safetensors``.
    max_epochs, patience, seed
        Budget, early-stopping patience (epochs without a lower validation loss), data-order seed.
    alpha
        Weight of MSE in the validation loss.
    bf16
        bfloat16 autocast for validation (training steps follow the stainer's own setting).
    settings
        Everything that must match for a checkpoint to be resumed (configuration, data hashes);
        ``max_epochs`` may differ.
    log
        Receives one progress line per epoch.

    Raises
    ------
    TrainingError
        On a NaN/Inf loss (the last good checkpoint is kept), or a checkpoint that cannot be resumed.
    """
    folder = Path(workdir)
    folder.mkdir(parents=True, exist_ok=True)
    fingerprint = _fingerprint({"settings": settings or {}, "seed": seed, "patience": patience, "alpha": alpha})
    checkpoint = folder / CHECKPOINT
    state: dict[str, Any] = {"fingerprint": fingerprint, "epoch": 0, "history": [], "best_loss": math.inf,
                             "best_epoch": 0, "stale": 0}
    if checkpoint.is_file():
        state = _load_checkpoint(checkpoint, stainer, fingerprint)
        log(f"train_stainer: resuming after epoch {state['epoch']} from {checkpoint}")
    started = time.perf_counter()
    first = int(state["epoch"])
    while state["epoch"] < max_epochs and state["stale"] < patience:
        epoch = int(state["epoch"]) + 1
        row = _train_epoch(stainer, train, epoch, seed, checkpoint)
        row |= validate(stainer.generator, val, alpha=alpha, bf16=bf16)
        if row["val_loss"] < state["best_loss"]:
            state |= {"best_loss": row["val_loss"], "best_epoch": epoch, "stale": 0}
            _save_best(folder / BEST, stainer.generator)
        else:
            state["stale"] = int(state["stale"]) + 1
        state["history"] = [*state["history"], row]
        state["epoch"] = epoch
        _save_checkpoint(checkpoint, stainer, state)
        elapsed = time.perf_counter() - started
        eta = elapsed / (epoch - first) * (max_epochs - epoch)
        log(f"train_stainer epoch {epoch}/{max_epochs} loss {row['loss']:.4f} val_loss {row['val_loss']:.4f} "
            f"val_ssim {row['val_ssim']:.3f} (elapsed {format_seconds(elapsed)}, ETA at most {format_seconds(eta)})")
    return FitResult(best_epoch=int(state["best_epoch"]), epochs_run=int(state["epoch"]),
                     stopped_early=int(state["stale"]) >= patience, history=list(state["history"]))


def _train_epoch(stainer: Stainer, train: PairedBatches, epoch: int, seed: int, checkpoint: Path) -> dict[str, float]:
    torch.manual_seed(_epoch_seed(seed, epoch))
    started = time.perf_counter()
    totals: dict[str, float] = {}
    count = 0
    for step, (inputs, targets) in enumerate(train.epoch(epoch, seed=seed), start=1):
        losses = stainer.train_step(inputs, targets)
        if not all(math.isfinite(v) for v in losses.values()):
            kept = f"the checkpoint of epoch {epoch - 1} is kept in {checkpoint}" if epoch > 1 else "nothing was saved"
            raise TrainingError(f"stainer training: loss {losses} is not finite at epoch {epoch}, batch {step}; "
                                f"{kept} (lower the learning rate or check the data)")
        for name, value in losses.items():
            totals[name] = totals.get(name, 0.0) + value * len(inputs)
        count += len(inputs)
    return {"epoch": float(epoch), **{name: total / count for name, total in totals.items()},
            "seconds": time.perf_counter() - started}


def _save_best(path: Path, generator: torch.nn.Module) -> None:
    temporary = path.with_suffix(".tmp")
    save_file({k: v.detach().contiguous() for k, v in generator.state_dict().items()}, str(temporary))
    os.replace(temporary, path)
