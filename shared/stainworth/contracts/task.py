"""Configuration of the task networks, their sweeps, and the manifests of a training unit and an evaluation.

A *unit* is one task network trained once: (task, architecture, modality, training size, subset,
replicate). The capacity sweep trains every architecture of a ladder on the full training split;
the learnable-capacity sweep trains one architecture on random subsets of several sizes, three
subsets per size. Every unit is trained ``replicates`` times with different initialisation and
batch order on the same items, so that the statistics can include training variance. The four
modalities of a unit share its subset, replicate seeds and test set, so every comparison between
modalities is paired.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from stainworth.contracts.base import DeviceName, StrictModel, format_validation_error
from stainworth.contracts.manifest import OutputManifest
from stainworth.errors import ConfigError

Task = Literal["segmentation", "classification"]
TASKS: tuple[Task, ...] = ("segmentation", "classification")
VERDICT_METRIC: dict[str, str] = {"segmentation": "dice", "classification": "auc"}
"""The metric each task's verdict is decided on (also the per-training test metric of ``units.csv``)."""
SECONDARY_METRIC: dict[str, str] = {"segmentation": "ap"}
"""A second metric compared with label-free, described by the verdict and shown on the dashboard where the units
carry it (segmentation: the instance AP over IoU 0.50:0.95); each metric is its own Holm family."""
MODALITY_PATTERN = r"^(label_free|fluorescence|virtual_[a-z][a-z0-9_]{0,31})$"
Modality = Annotated[str, Field(pattern=MODALITY_PATTERN)]
"""``label_free``, ``fluorescence``, or ``virtual_<name>``: the images of one stainer (the study's
``virtual_effunet`` and ``virtual_pix2pixhd``, or ``virtual_<name>`` of an external stainer of
``stain.external``)."""
MODALITIES: tuple[str, ...] = ("label_free", "virtual_effunet", "virtual_pix2pixhd", "fluorescence")
"""The study's four modalities, in reporting order."""
VIRTUAL_PREFIX = "virtual_"
BUILTIN_VIRTUAL: dict[str, str] = {"efficientunet": "virtual_effunet", "pix2pixhd": "virtual_pix2pixhd"}
"""Built-in stainer architecture → the modality of its images."""
SweepKind = Literal["capacity", "learnable"]
Ending = Literal["early_stop", "epoch_cap", "degenerate_retrained"]
"""How a training ended: early stopping on its validation loss, its epoch cap, or (after a degenerate
first attempt, see :mod:`stainworth.tasks.degenerate`) a retraining with a fresh seed."""
UnitGrouping = Literal["unit", "architecture", "slots"]
"""Trainings per ``train_task`` task: one (a GPU task each on a cluster), half of those of one
architecture and training size, or half of all (one process per runner slot: imports and start-up
paid twice in all; the local default)."""
LADDERS: dict[Task, tuple[str, ...]] = {
    "segmentation": ("unet1", "unet2", "unet3", "efficientunet0", "efficientunet7"),
    "classification": ("cnn1", "cnn3", "resnet18", "resnet50", "resnet101"),
}
"""Each task's networks in increasing capacity (the registry in :mod:`stainworth.tasks` builds them)."""
NetworkSource = Literal["builtin", "user"]
"""A network of the study's ladders, or one the user names (:data:`USER_NETWORK_FORMS`)."""
USER_NETWORK_PATTERNS: dict[str, re.Pattern[str]] = {
    "timm": re.compile(r"timm:[A-Za-z0-9_.]+"),
    "smp": re.compile(r"smp:[A-Za-z][A-Za-z0-9_]*/[A-Za-z0-9_.-]+"),
    "py": re.compile(r"py:[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*"),
}
"""The syntax of a user network by kind: any timm classifier, any segmentation_models_pytorch model, or
a function of an importable module returning an ``nn.Module``."""
USER_NETWORK_TASKS: dict[str, tuple[Task, ...]] = {
    "timm": ("classification",), "smp": ("segmentation",), "py": ("segmentation", "classification")}
"""The tasks each kind of user network can perform."""
USER_NETWORK_FORM: dict[str, str] = {
    "timm": "timm:<model>", "smp": "smp:<Arch>/<encoder>", "py": "py:<module>:<function>"}
USER_NETWORK_FORMS = "timm:<model> (classification), smp:<Arch>/<encoder> (segmentation), py:<module>:<function>"
"""The forms of a user network name, for messages."""
_UNSAFE = re.compile(r"[^A-Za-z0-9_.]+")
MODEL_FILE, NORMALISER_FILE, SCORES_TABLE, HISTORY_TABLE = (
    "model.safetensors", "normaliser.json", "scores.csv", "history.csv")
"""Files of a ``train_task`` output beside its manifest."""


_PER_ARCHITECTURE_RANGES: dict[str, tuple[float, float, str]] = {
    "max_epochs_by_architecture": (1, 10000, "caps from 1 to 10000"),
    "patience_by_architecture": (1, 10000, "values from 1 to 10000"),
    "plateau_patience_by_architecture": (1, 10000, "values from 1 to 10000"),
    "learning_rate_by_architecture": (1e-12, 1, "rates in (0, 1]"),
}


def is_modality(name: object) -> bool:
    """Whether ``name`` is a well-formed modality (:data:`MODALITY_PATTERN`)."""
    return isinstance(name, str) and re.fullmatch(MODALITY_PATTERN, name) is not None


def is_virtual(modality: str) -> bool:
    """Whether ``modality`` is the images of a stainer (``virtual_<name>``)."""
    return modality.startswith(VIRTUAL_PREFIX)


def modality_rank(modality: str) -> tuple[int, str]:
    """Sort key of the reporting order: label-free, the study's stainers, external stainers by name, fluorescence."""
    if modality in MODALITIES:
        return (MODALITIES.index(modality) if modality != "fluorescence" else 4, "")
    return (3, modality) if is_virtual(modality) else (5, modality)


def sweep_modalities(builtin: list[str], external: list[str]) -> list[str]:
    """A sweep's modalities for the study's stainers ``builtin`` (architectures) and the ``external`` names."""
    virtual = [BUILTIN_VIRTUAL[name] for name in ("efficientunet", "pix2pixhd") if name in builtin]
    return ["label_free", *virtual, *(VIRTUAL_PREFIX + name for name in external), "fluorescence"]


def user_network_kind(name: str) -> str | None:
    """``"timm"``, ``"smp"`` or ``"py"`` for a name of that prefix (well-formed or not), else ``None``."""
    kind = name.partition(":")[0] if isinstance(name, str) and ":" in name else ""
    return kind if kind in USER_NETWORK_PATTERNS else None


def network_source(name: str) -> NetworkSource:
    """``"user"`` for a ``timm:``, ``smp:`` or ``py:`` network, ``"builtin"`` for a network of the ladders."""
    return "user" if user_network_kind(name) else "builtin"


def architecture_slug(name: str) -> str:
    """``name`` safe in unit names, store keys, file names and metric names.

    A built-in name is its own slug; in a user network's name every run of characters other
    than letters, digits, ``_`` and ``.`` becomes ``_`` (``smp:Unet/resnet34`` -> ``smp_Unet_resnet34``).
    """
    return _UNSAFE.sub("_", name)


def architecture_problem(task: Task, name: object) -> str | None:
    """Why ``name`` cannot be an architecture of ``task`` (``None``: it can).

    Checks the syntax only; whether a user network exists and fits the task's images is checked
    where it can be built (:func:`stainworth.tasks.registry.check_task_networks`).
    """
    if not isinstance(name, str):
        return f"found {name!r}; expected a network name"
    if name in LADDERS[task]:
        return None
    kind = user_network_kind(name)
    if kind is None:
        return f"'{name}' is neither in the {task} ladder {list(LADDERS[task])} nor a network of your own " \
               f"({USER_NETWORK_FORMS})"
    if not USER_NETWORK_PATTERNS[kind].fullmatch(name):
        return f"'{name}' is not of the form {USER_NETWORK_FORM[kind]}"
    if task not in USER_NETWORK_TASKS[kind]:
        forms = [form for other, form in USER_NETWORK_FORM.items() if task in USER_NETWORK_TASKS[other]]
        return f"'{name}': {kind}: networks do {' and '.join(USER_NETWORK_TASKS[kind])} only; {task} takes " \
               f"the {task} ladder {list(LADDERS[task])} or {' or '.join(forms)}"
    return None


class TaskTrainingConfig(StrictModel):
    """Training of one task network (the study: Adam, BCE, early stopping after 10 stale epochs)."""

    learning_rate: float = Field(default=1e-4, gt=0, le=1)
    learning_rate_by_architecture: dict[str, float] = Field(default_factory=dict)
    """Learning rates of single architectures, overriding ``learning_rate`` (e.g. a network of a few
    hundred parameters that barely moves at the rate that keeps a ResNet stable); the study has none."""
    batch_size: int = Field(default=16, ge=1, le=1024)
    max_epochs: int = Field(default=100, ge=1, le=10000)
    max_epochs_by_architecture: dict[str, int] = Field(default_factory=dict)
    """Caps of single architectures, overriding ``max_epochs`` (e.g. to let small networks train to
    convergence while the large ones fit a time budget); the study has none."""
    patience: int = Field(default=10, ge=1)
    """Epochs without a lower validation loss before training stops."""
    patience_by_architecture: dict[str, int] = Field(default_factory=dict)
    """Patience of single architectures, overriding ``patience`` (e.g. small networks that sit at chance
    for a while before they learn, and whose epochs cost a fraction of a second)."""
    seed: int = 0
    """Seed of initialisation, batch order and subsets; the same for every modality."""
    augment: Literal["none", "flips", "dihedral"] = "none"
    """Random symmetries of training images (the study used none)."""
    warmup_epochs: int = Field(default=0, ge=0, le=100)
    """Epochs over which the learning rate rises linearly from ``learning_rate / 10`` (0: none)."""
    plateau_factor: float = Field(default=1.0, gt=0, le=1)
    """Learning rate multiplied by this after ``plateau_patience`` epochs without a lower validation
    loss (1: constant learning rate)."""
    plateau_patience: int = Field(default=2, ge=1)
    """Stale epochs before the learning rate is lowered (below ``patience`` for it to matter)."""
    plateau_patience_by_architecture: dict[str, int] = Field(default_factory=dict)
    """Plateau patience of single architectures, overriding ``plateau_patience`` (a network whose
    validation loss is noisy needs its rate lowered sooner; one that learns in stages needs time
    at its rate to leave a plateau)."""
    min_improvement: float = Field(default=0.0, ge=0, lt=1)
    """Relative decrease of the validation loss that early stopping counts as progress: a loss
    counts when it is below ``last × (1 − min_improvement)``, ``last`` the loss of the last epoch
    that counted; 0: any decrease (a relative ``min_delta`` of Keras' and Lightning's early
    stopping). The best epoch and the plateau schedule follow every decrease."""
    channels_last: bool = False
    """Channels-last memory format (faster convolutions on CPUs with oneDNN)."""
    max_attempts: int = Field(default=3, ge=1, le=10)
    """Trainings of one replicate at most: a degenerate one is retrained with a fresh seed."""
    max_val_items: int | None = Field(default=None, ge=2)
    """Validate on the first n validation items only (``None``: all)."""
    min_epoch_items: int | None = Field(default=None, ge=1)
    """Items an epoch shows at least: a training set or learnable-capacity subset smaller than this
    is passed over repeatedly within an epoch (each pass shuffled and augmented anew), so that
    warm-up, plateau schedule and patience count about as many optimiser steps at every training
    size (``None``: one pass, the study's epoch)."""
    bf16: bool = False
    """bfloat16 autocast (on the CPU roughly twice as fast)."""
    device: DeviceName = "auto"
    """Where it trains and predicts (:mod:`stainworth.nets.devices`)."""
    weights_uris: dict[str, str] = Field(default_factory=dict)
    """Initial weights per architecture (a local file or a store URI): ImageNet weights of a built-in network,
    any state dict that fits a network of your own (``docs/your_own.md``); absent: trained from scratch."""

    @field_validator("max_epochs_by_architecture", "patience_by_architecture", "learning_rate_by_architecture",
                     "plateau_patience_by_architecture")
    @classmethod
    def _values_in_range(cls, values: dict[str, float], info: ValidationInfo) -> dict[str, float]:
        low, high, words = _PER_ARCHITECTURE_RANGES[str(info.field_name)]
        bad = {name: value for name, value in values.items() if not low <= value <= high}
        if bad:
            raise ValueError(f"{info.field_name} {bad}: expected {words}")
        return values

    def epochs_for(self, architecture: str) -> int:
        """The epoch cap of ``architecture``."""
        return self.max_epochs_by_architecture.get(architecture, self.max_epochs)

    def patience_for(self, architecture: str) -> int:
        """The early-stopping patience of ``architecture``."""
        return self.patience_by_architecture.get(architecture, self.patience)

    def plateau_patience_for(self, architecture: str) -> int:
        """The plateau patience of ``architecture``."""
        return self.plateau_patience_by_architecture.get(architecture, self.plateau_patience)

    def learning_rate_for(self, architecture: str) -> float:
        """The learning rate of ``architecture``."""
        return self.learning_rate_by_architecture.get(architecture, self.learning_rate)


class LearnableConfig(StrictModel):
    """The learnable-capacity sweep: one architecture, several training sizes, several subsets each."""

    architecture: str
    sizes: list[int] = Field(min_length=1)
    """Training sizes, each at most the training split's size."""
    subsets: int = Field(default=3, ge=1, le=20)
    """Independent random subsets per size (disjoint when the training split allows)."""
    replicates: int | None = Field(default=None, ge=1, le=20)
    """Trainings per subset (None: the task's ``replicates``). The subsets already differ in their items
    and initialisation, so their spread is training variance: with two or more subsets one training
    each is enough for an interval that includes it."""

    @model_validator(mode="after")
    def _training_variance_measured(self) -> LearnableConfig:
        if self.replicates is not None and self.subsets * self.replicates < 2:
            raise ValueError(f"subsets {self.subsets} x replicates {self.replicates}: expected at least two "
                             "trainings per training size, so that training variance can be measured")
        return self

    @field_validator("sizes")
    @classmethod
    def _positive_increasing(cls, sizes: list[int]) -> list[int]:
        if any(size < 2 for size in sizes) or sorted(set(sizes)) != sizes:
            raise ValueError(f"sizes {sizes}: expected distinct increasing sizes of at least 2")
        return sizes


class TaskSweepConfig(StrictModel):
    """One task's sweeps and training settings."""

    architectures: list[str]
    """Capacity sweep: networks of the task's ladder and networks of your own (:data:`USER_NETWORK_FORMS`)."""
    learnable: LearnableConfig
    modalities: list[Modality] = Field(default_factory=lambda: list(MODALITIES), min_length=1)
    """Input images compared; in a profile, by default label-free, one per stainer of ``stain``
    (built-in and external) and the real fluorescence."""
    training: TaskTrainingConfig
    replicates: int = Field(default=3, ge=2, le=20)
    """Trainings of every unit, with different initialisation and batch order on the same items: the
    between-replicate spread is the training variance in every interval."""


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
    grouping: UnitGrouping | None = None
    """Trainings per ``train_task`` task (:data:`UnitGrouping`); None: ``slots`` in a local run,
    ``unit`` on a cluster."""

    @model_validator(mode="after")
    def _architectures_in_their_ladder(self) -> TasksConfig:
        for task in TASKS:
            sweep: TaskSweepConfig = getattr(self, task)
            training = sweep.training
            fields = [*((f"architectures[{k}]", name) for k, name in enumerate(sweep.architectures)),
                      ("learnable.architecture", sweep.learnable.architecture),
                      *((f"training.{key}[{name}]", name) for key in (
                          "weights_uris", "max_epochs_by_architecture", "learning_rate_by_architecture",
                          "patience_by_architecture", "plateau_patience_by_architecture")
                        for name in getattr(training, key))]
            for where, name in fields:
                problem = architecture_problem(task, name)
                if problem:
                    raise ValueError(f"tasks.{task}.{where}: {problem}")
            slugs: dict[str, str] = {}
            for name in dict.fromkeys([*sweep.architectures, sweep.learnable.architecture]):
                other = slugs.setdefault(architecture_slug(name), name)
                if other != name:
                    raise ValueError(f"tasks.{task}.architectures: '{other}' and '{name}' both become "
                                     f"'{architecture_slug(name)}' in unit and file names; rename one")
        return self

    def learnable_replicates(self, task: Task) -> int:
        """Trainings per subset of ``task``'s learnable sweep."""
        sweep = self.sweep(task)
        return sweep.learnable.replicates or sweep.replicates

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
    replicate: int = Field(default=0, ge=0)
    """Which training of this unit (0-based): replicates differ in initialisation and batch order only,
    and share the training items, the validation items and the test items."""

    @model_validator(mode="after")
    def _architecture_of_the_task(self) -> TaskUnit:
        problem = architecture_problem(self.task, self.architecture)
        if problem:
            raise ValueError(f"architecture {problem}")
        return self

    @property
    def name(self) -> str:
        """``<task>-<architecture>-<modality>-<size|all>-s<subset>-r<replicate>``, unique within a sweep.

        The architecture as its :func:`architecture_slug` (a user network's ``:`` and ``/`` become ``_``).
        """
        size = "all" if self.train_size is None else str(self.train_size)
        return (f"{self.task}-{architecture_slug(self.architecture)}-{self.modality}-{size}-s{self.subset}"
                f"-r{self.replicate}")


class SweepEntry(StrictModel):
    """One training of a sweep item, as the pipeline lists it (a :class:`TaskUnit` without its task)."""

    architecture: str
    modality: Modality
    train_size: int | None = Field(default=None, ge=2)
    """Training items of a random subset; ``None`` (absent in a pipeline's loop item, which cannot
    hold a null): the whole training split (the capacity sweep)."""
    subset: int = Field(default=0, ge=0)
    replicate: int = Field(default=0, ge=0)
    position: str = ""
    """Shown in its progress lines (``run 3/60``)."""

    def unit(self, task: Task) -> TaskUnit:
        """The unit this entry trains in ``task``."""
        return TaskUnit(task=task, architecture=self.architecture, modality=self.modality,
                        train_size=self.train_size, subset=self.subset, replicate=self.replicate)


class SweepItem(StrictModel):
    """One loop item of a sweep: the trainings one ``train_task`` task runs, in order."""

    units: list[SweepEntry] = Field(min_length=1)

    def task_units(self, task: Task) -> list[TaskUnit]:
        """The entries as units of ``task``.

        Raises
        ------
        ConfigError
            An entry whose architecture is not in ``task``'s ladder (one line naming the entry).
        """
        units = []
        for k, entry in enumerate(self.units):
            try:
                units.append(entry.unit(task))
            except ValidationError as error:
                raise ConfigError(format_validation_error(error, where=f"sweep item unit {k + 1}")) from None
        return units

    @property
    def positions(self) -> list[str]:
        """Each entry's ``position``."""
        return [entry.position for entry in self.units]


class TaskRunManifest(OutputManifest):
    """The output of ``train_task``: the trained network, its per-image test scores, its history."""

    unit: TaskUnit
    trainable_parameters: int = Field(ge=1)
    """Capacity: counted trainable parameters."""
    weights: str
    """Where the initial weights came from (``none (trained from scratch)`` or the file and its hash)."""
    best_epoch: int = Field(ge=1)
    stopped_early: bool
    ended: Ending
    """How the kept training ended."""
    attempts: int = Field(default=1, ge=1)
    """Trainings of this replicate (more than one after a degenerate attempt)."""
    degenerate: str = ""
    """Why the kept training is still degenerate after ``attempts`` (empty: it is not)."""
    seed: int
    """Seed of the subset draw (the profile's training seed)."""
    init_seed: int = 0
    """Seed of the kept training's initialisation and batch order (from the seed, subset, replicate and attempt)."""
    device: str = "cpu"
    """The device it trained on (``cpu``, ``cuda:0``)."""


class TaskGroupManifest(OutputManifest):
    """The output of one ``train_task`` task: the sub-folders of the units it trained, each complete."""

    units: list[str] = Field(min_length=1)
    """Sub-folders, one :class:`TaskRunManifest` output each, in training order."""


class EvaluationManifest(OutputManifest):
    """The output of ``evaluate``: tables, verdict and analyses of one task's units."""

    task: Task
    verdict: list[str] = Field(default_factory=list)
    """The verdict in plain sentences (also in ``verdict.md``)."""
