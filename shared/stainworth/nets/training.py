"""What every training loop here shares: per-epoch seeds, resumable checkpoints, early stopping, best weights.

Both the stainers' loop (:mod:`stainworth.stainers.fit`) and the task networks' loop
(:mod:`stainworth.tasks.fit`) follow one scheme:

* torch's random state is re-seeded from ``(seed, epoch)`` at the start of every epoch
  (:func:`epoch_seed`) and batches depend only on ``(seed, epoch)``, so a training resumed from its
  checkpoint ends exactly where an uninterrupted one does;
* the checkpoint (the state dict of every network and optimiser, named by ``parts``, plus a plain
  :class:`TrainingState`) is replaced atomically (write a temporary file, then ``os.replace``)
  at the end of every epoch, and is loaded with ``weights_only=True``;
* a checkpoint carries the :func:`fingerprint` of everything that must match for it to be resumed
  (configuration, seed, data); a checkpoint of another configuration is refused rather than
  silently continued;
* the weights of the epoch with the lowest validation loss so far are written atomically to a
  safetensors file (:func:`save_weights`); training stops after ``patience`` epochs without a
  lower validation loss, or at ``max_epochs`` (:meth:`TrainingState.running`);
* in the task networks' loop, a training that stopped early can never go on (its stopping rule is
  part of the fingerprint), so its checkpoint is replaced by the state alone
  (:func:`save_final_state`, :func:`stainworth.tasks.fit.fit_task`): the networks and
  optimiser moments, three quarters of a ResNet's checkpoint, are dead weight in the store once
  the best weights are kept. A training that reached its epoch cap keeps everything, so that a
  larger cap continues it.

The state is stored as a plain dict of numbers and lists, so checkpoints need no pickled classes.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from stainworth.contracts.base import canonical_json
from stainworth.errors import TrainingError

CHECKPOINT = "checkpoint.pt"
"""File name of the resumable checkpoint inside a training's work folder."""
BEST = "best.safetensors"
"""File name of the best epoch's weights inside a training's work folder."""

Parts = Mapping[str, torch.nn.Module | torch.optim.Optimizer]
"""Everything a checkpoint holds besides the state, by name (networks and optimisers)."""


def epoch_seed(seed: int, epoch: int) -> int:
    """The torch seed of one epoch: a function of ``(seed, epoch)`` only."""
    return int(np.random.SeedSequence([int(seed), int(epoch), 0x57A1]).generate_state(1)[0])


def fingerprint(settings: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``settings`` (everything a resumed training must share)."""
    return hashlib.sha256(canonical_json(dict(settings)).encode()).hexdigest()


def improves(loss: float, best: float, min_improvement: float = 0.0) -> bool:
    """Whether ``loss`` counts as an improvement on ``best``: below ``best * (1 - min_improvement)``.

    >>> improves(0.995, 1.0), improves(0.995, 1.0, 0.01), improves(0.5, math.inf, 0.01)
    (True, False, True)
    """
    return loss < best * (1.0 - min_improvement) if math.isfinite(best) else loss < best


@dataclass
class TrainingState:
    """Progress of one training, as stored in its checkpoint."""

    fingerprint: str
    epoch: int = 0
    """Epochs finished."""
    history: list[dict[str, float]] = field(default_factory=list)
    """One row per finished epoch (each has ``val_loss``)."""
    best_loss: float = math.inf
    best_epoch: int = 0
    """1-based epoch of the lowest validation loss (0 before the first epoch)."""
    stale: int = 0
    """Epochs since the last improvement (a lower validation loss, by ``min_improvement`` if given)."""
    progress_loss: float = math.inf
    """The validation loss of the last improvement (``best_loss`` when ``min_improvement`` is 0)."""
    final: bool = False
    """Read from a finished training's state alone (:func:`save_final_state`): no parts were loaded."""

    def running(self, max_epochs: int, patience: int) -> bool:
        """Whether another epoch is due: budget left and fewer than ``patience`` stale epochs."""
        return self.epoch < max_epochs and self.stale < patience

    def record(self, row: dict[str, float], min_improvement: float = 0.0) -> bool:
        """Append the row of the next epoch; return whether its ``val_loss`` is the lowest so far.

        The lowest loss sets the best epoch. The stale count (early stopping) restarts only when the
        loss is below that of the last improvement by ``min_improvement`` (:func:`improves`); with
        0 (the default) both are the same event.
        """
        self.epoch += 1
        self.history = [*self.history, row]
        loss = row["val_loss"]
        lowest = loss < self.best_loss
        if lowest:
            self.best_loss, self.best_epoch = loss, self.epoch
        if improves(loss, self.progress_loss, min_improvement):
            self.progress_loss, self.stale = loss, 0
        else:
            self.stale += 1
        return lowest


def save_checkpoint(path: Path, parts: Parts, state: TrainingState) -> None:
    """Write every part's state dict and the training state to ``path`` atomically.

    Raises
    ------
    TrainingError
        When the file cannot be written (a full disk, say); the previous checkpoint stays.
    """
    payload: dict[str, Any] = {name: part.state_dict() for name, part in parts.items()}
    payload["state"] = asdict(state)
    temporary = path.with_suffix(".tmp")
    try:
        torch.save(payload, temporary)
    except (OSError, RuntimeError) as error:
        temporary.unlink(missing_ok=True)
        free = _free_bytes(path.parent)
        raise TrainingError(f"{path}: could not write the checkpoint after epoch {state.epoch} "
                            f"({str(error).splitlines()[0]}; {free / 1e9:.1f} GB free); the previous "
                            f"checkpoint is kept, a retry resumes from it") from None
    os.replace(temporary, path)


def _free_bytes(folder: Path) -> int:
    try:
        stats = os.statvfs(folder)
    except OSError:
        return 0
    return int(stats.f_bavail * stats.f_frsize)


def save_final_state(path: Path, state: TrainingState) -> None:
    """Replace the checkpoint at ``path`` by ``state`` alone (no parts), atomically: a finished training.

    :func:`load_checkpoint` returns such a state without touching the parts; the best weights
    (:data:`BEST`) are the training's result.
    """
    temporary = path.with_suffix(".tmp")
    torch.save({"state": asdict(state) | {"final": True}}, temporary)
    os.replace(temporary, path)


def load_checkpoint(path: Path, parts: Parts, expected: str) -> TrainingState:
    """Load the parts' state dicts from ``path`` and return its training state.

    The parts are left untouched when the checkpoint is a finished training's state alone
    (:func:`save_final_state`).

    Raises
    ------
    TrainingError
        If the file cannot be read, or its fingerprint differs from ``expected``.
    """
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable checkpoint gets the same one line
        raise TrainingError(f"{path}: unreadable checkpoint ({type(error).__name__}); "
                            "delete it to start over") from None
    state = payload.get("state", {}) if isinstance(payload, dict) else {}
    if state.get("fingerprint") != expected:
        raise TrainingError(f"{path}: checkpoint of a different training configuration or data; "
                            "delete it or use another output folder")
    final = bool(state.get("final", False))
    if not final:
        for name, part in parts.items():
            part.load_state_dict(payload[name])
    return TrainingState(fingerprint=str(state["fingerprint"]), epoch=int(state["epoch"]),
                         history=list(state["history"]), best_loss=float(state["best_loss"]),
                         best_epoch=int(state["best_epoch"]), stale=int(state["stale"]),
                         progress_loss=float(state.get("progress_loss", state["best_loss"])), final=final)


def resume(path: Path, parts: Parts, expected: str) -> TrainingState:
    """The state of the checkpoint at ``path`` (loading the parts), or a fresh state if there is none."""
    return load_checkpoint(path, parts, expected) if path.is_file() else TrainingState(fingerprint=expected)


def save_weights(path: Path, module: torch.nn.Module) -> None:
    """Write ``module``'s state dict to the safetensors file ``path`` atomically."""
    temporary = path.with_suffix(".tmp")
    save_file({k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}, str(temporary))
    os.replace(temporary, path)


def load_weights(path: Path, module: torch.nn.Module) -> None:
    """Load the safetensors state dict at ``path`` into ``module`` (strict)."""
    module.load_state_dict(load_file(str(path)))


def not_finite_note(epoch: int, checkpoint: Path) -> str:
    """What is left on disk when epoch ``epoch`` fails: the previous checkpoint, or nothing."""
    return f"the checkpoint of epoch {epoch - 1} is kept in {checkpoint}" if epoch > 1 else "nothing was saved"
