"""Configuration of the task networks, their sweeps, and the manifests of a training unit and an evaluation.

A *unit* is one task network trained once: (task, architecture, modality, training size, subset).
The capacity sweep trains every architecture of a ladder on the full training split; the
learnable-capacity sweep trains one architecture on random subsets of several sizes, three
subsets per size. The four modalities of a unit share its subset, seed and test set, so every
comparison between modalities is paired.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from stainworth.contracts.base import DeviceName, StrictModel
from stainworth.contracts.manifest import OutputManifest

Task = Literal["segmentation", "classification"]
TASKS: tuple[Task, ...] = ("segmentation", "classification")
Modality = Literal["label_free", "virtual_effunet", "virtual_pix2pixhd", "fluorescence"]
MODALITIES: tuple[Modality, ...] = ("label_free", "virtual_effunet", "virtual_pix2pixhd", "fluorescence")
VIRTUAL_MODALITIES: tuple[Modality, ...] = ("virtual_effunet", "virtual_pix2pixhd")
"""The modalities made by a stainer (an ``apply_stainer`` output each)."""
SweepKind = Literal["capacity", "learnable"]
LADDERS: dict[Task, tuple[str, ...]] = {
    "segmentation": ("unet1", "unet2", "unet3", "efficientunet0", "efficientunet7"),
    "classification": ("cnn1", "cnn3", "resnet18", "resnet50", "resnet101"),
}
"""Each task's networks in increasing capacity (the registry in :mod:`stainworth.tasks` builds them)."""
MODEL_FILE, NORMALISER_FILE, SCORES_TABLE, HISTORY_TABLE = (
    "model.safetensors", "normaliser.json", "scores.csv", "history.csv")
"""Files of a ``train_task`` output beside its manifest."""


class TaskTrainingConfig(StrictModel):
    """Training of one task network (the study: Adam, BCE, early stopping after 10 stale epochs)."""

    learning_rate: float = Field(default=1e-4, gt=0, le=1)
    batch_size: int = Field(default=16, ge=1, le=1024)
    max_epochs: int = Field(default=100, ge=1, le=10000)
    max_epochs_by_architecture: dict[str, int] = Field(default_factory=dict)
    """Caps of single architectures, overriding ``max_epochs`` (e.g. to let small networks train to
    convergence while the large ones fit a time budget); the study has none."""
    patience: int = Field(default=10, ge=1)
    """Epochs without a lower validation loss before training stops."""
    seed: int = 0
    """Seed of initialisation, batch order and subsets; the same for every modality."""
    augment: Literal["none", "flips", "dihedral"] = "none"
    """Random symmetries of training images (the study used none)."""
    max_val_items: int | None = Field(default=None, ge=2)
    """Validate on the first n validation items only (``None``: all)."""
    bf16: bool = False
    """bfloat16 autocast (on the CPU roughly twice as fast)."""
    device: DeviceName = "auto"
    """Where it trains and predicts (:mod:`stainworth.devices`)."""
    weights_uris: dict[str, str] = Field(default_factory=dict)
    """ImageNet weights per architecture (a local file or a store URI); absent: trained from scratch."""

    @field_validator("max_epochs_by_architecture")
    @classmethod
    def _positive_caps(cls, caps: dict[str, int]) -> dict[str, int]:
        bad = {name: cap for name, cap in caps.items() if not 1 <= cap <= 10000}
        if bad:
            raise ValueError(f"max_epochs_by_architecture {bad}: expected caps from 1 to 10000")
        return caps

    def epochs_for(self, architecture: str) -> int:
        """The epoch cap of ``architecture``."""
        return self.max_epochs_by_architecture.get(architecture, self.max_epochs)


class LearnableConfig(StrictModel):
    """The learnable-capacity sweep: one architecture, several training sizes, several subsets each."""

    architecture: str
    sizes: list[int] = Field(min_length=1)
    """Training sizes, each at most the training split's size."""
    subsets: int = Field(default=3, ge=1, le=20)
    """Independent random subsets per size (disjoint when the training split allows)."""

    @field_validator("sizes")
    @classmethod
    def _positive_increasing(cls, sizes: list[int]) -> list[int]:
        if any(size < 2 for size in sizes) or sorted(set(sizes)) != sizes:
            raise ValueError(f"sizes {sizes}: expected distinct increasing sizes of at least 2")
        return sizes


class TaskSweepConfig(StrictModel):
    """One task's sweeps and training settings."""

    architectures: list[str]
    """Capacity sweep: networks of the task's ladder."""
    learnable: LearnableConfig
    modalities: list[Modality] = Field(default_factory=lambda: list(MODALITIES), min_length=1)
    training: TaskTrainingConfig


def _segmentation_default() -> TaskSweepConfig:
    return TaskSweepConfig(
        architectures=list(LADDERS["segmentation"]),
        learnable=LearnableConfig(architecture="efficientunet7", sizes=[100, 300, 1000, 5000, 10000, 15000]),
        training=TaskTrainingConfig(batch_size=4))


def _classification_default() -> TaskSweepConfig:
    return TaskSweepConfig(
        architectures=list(LADDERS["classification"]),
        learnable=LearnableConfig(architecture="resnet101", sizes=[100, 500, 1000, 5000, 8000, 10000]),
        training=TaskTrainingConfig(batch_size=16))


class TasksConfig(StrictModel):
    """Both tasks: the study's ladders and sizes by default (the ``paper`` scale)."""

    segmentation: TaskSweepConfig = Field(default_factory=_segmentation_default)
    classification: TaskSweepConfig = Field(default_factory=_classification_default)
    threshold: float = Field(default=0.5, gt=0, lt=1)
    """Probability above which a pixel is called nucleus."""
    store_prefix: str = Field(default="tasks", pattern=r"^[A-Za-z0-9._/-]+$")
    """Store prefix under which every unit is published."""

    @model_validator(mode="after")
    def _architectures_in_their_ladder(self) -> TasksConfig:
        for task in TASKS:
            sweep: TaskSweepConfig = getattr(self, task)
            names = [*sweep.architectures, sweep.learnable.architecture, *sweep.training.weights_uris,
                     *sweep.training.max_epochs_by_architecture]
            unknown = [name for name in names if name not in LADDERS[task]]
            if unknown:
                raise ValueError(f"{task}: architectures {unknown} are not in the {task} ladder "
                                 f"{list(LADDERS[task])}")
        return self

    def sweep(self, task: Task) -> TaskSweepConfig:
        """The settings of ``task``."""
        return self.segmentation if task == "segmentation" else self.classification


class TaskUnit(StrictModel):
    """One task network trained once."""

    task: Task
    architecture: str
    modality: Modality
    train_size: int | None = Field(default=None, ge=2)
    """Training items (a random subset); ``None``: the whole training split."""
    subset: int = Field(default=0, ge=0)
    """Which random subset of ``train_size`` (0-based)."""

    @model_validator(mode="after")
    def _architecture_of_the_task(self) -> TaskUnit:
        if self.architecture not in LADDERS[self.task]:
            raise ValueError(f"architecture '{self.architecture}' is not in the {self.task} ladder "
                             f"{list(LADDERS[self.task])}")
        return self

    @property
    def name(self) -> str:
        """``<task>-<architecture>-<modality>-<size|all>-s<subset>``, unique within a sweep."""
        size = "all" if self.train_size is None else str(self.train_size)
        return f"{self.task}-{self.architecture}-{self.modality}-{size}-s{self.subset}"


class TaskRunManifest(OutputManifest):
    """The output of ``train_task``: the trained network, its per-image test scores, its history."""

    unit: TaskUnit
    trainable_parameters: int = Field(ge=1)
    """Capacity: counted trainable parameters."""
    weights: str
    """Where the initial weights came from (``none (trained from scratch)`` or the file and its hash)."""
    best_epoch: int = Field(ge=1)
    stopped_early: bool
    seed: int
    """Seed of the subset draw and the batch order (the initialisation seed also depends on the subset)."""
    device: str = "cpu"
    """The device it trained on (``cpu``, ``cuda:0``)."""


class EvaluationManifest(OutputManifest):
    """The output of ``evaluate``: tables, verdict and analyses of one task's units."""

    task: Task
    verdict: list[str] = Field(default_factory=list)
    """The verdict in plain sentences (also in ``verdict.md``)."""
