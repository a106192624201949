"""What one task-network training is asked to do: the task, budget, seed, learning rate and its schedule.

The schedule is :class:`~stainworth.nets.schedule.LearningRateSchedule`, shared with the stainers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from stainworth.contracts.task import TASKS, TaskTrainingConfig
from stainworth.errors import ConfigError
from stainworth.nets.schedule import LearningRateSchedule


@dataclass(frozen=True)
class TaskFitPlan:
    """The settings of one :func:`~stainworth.tasks.fit.fit_task` run that its checkpoint must match.

    Raises
    ------
    ConfigError
        An unknown task, or a budget, patience or learning rate that is not positive.
    """

    task: str
    """``"segmentation"`` or ``"classification"``; must be the task of both splits."""
    max_epochs: int
    """Epoch budget (it may differ when a checkpoint is resumed)."""
    patience: int
    """Early-stopping patience: epochs without a lower validation loss."""
    seed: int
    """Seed of the data order and of torch's per-epoch random state."""
    learning_rate: float
    """Adam's learning rate (before warm-up and plateaus)."""
    schedule: LearningRateSchedule = field(default_factory=LearningRateSchedule)
    """Warm-up and reduce-on-plateau; the default is a constant rate."""
    bf16: bool = False
    """bfloat16 autocast for training and validation."""

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ConfigError(f"task '{self.task}': expected one of {', '.join(TASKS)}")
        if int(self.max_epochs) < 1 or int(self.patience) < 1:
            raise ConfigError(f"max_epochs {self.max_epochs}, patience {self.patience}: expected integers >= 1")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ConfigError(f"learning_rate {self.learning_rate}: expected a positive number")

    @classmethod
    def from_config(cls, training: TaskTrainingConfig, architecture: str, *, task: str, seed: int,
                    max_epochs: int | None = None) -> TaskFitPlan:
        """The plan of ``architecture`` under ``training`` (its per-architecture values), with ``seed``.

        Parameters
        ----------
        training
            The task's training configuration.
        architecture
            Name of the task network, for the per-architecture epochs, patience, plateau patience
            and learning rate.
        task
            ``"segmentation"`` or ``"classification"``.
        seed
            This training's seed (a replicate's or an attempt's, not necessarily ``training.seed``).
        max_epochs
            Overrides the architecture's epoch budget.
        """
        schedule = LearningRateSchedule(training.warmup_epochs, training.plateau_factor,
                                        training.plateau_patience_for(architecture), training.min_improvement)
        return cls(task=task, max_epochs=max_epochs or training.epochs_for(architecture),
                   patience=training.patience_for(architecture), seed=seed,
                   learning_rate=training.learning_rate_for(architecture), schedule=schedule, bf16=training.bf16)
