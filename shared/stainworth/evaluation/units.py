"""The per-test-image scores of trained task networks (*units*) and the checks of the paired design.

A unit is one task network trained once: (task, architecture, modality, training size, subset,
replicate). Its scores are one row per test image: ``item``, ``precision``, ``recall``, ``dice``
for segmentation (``recall`` is NaN on an image without nuclei, see
:mod:`stainworth.metrics.segmentation`), ``item``, ``label`` (0 control, 1 treated) and
``score`` (probability of treated) for classification. The four modalities of one (architecture,
training size, subset, replicate) are scored on the same test images, so modalities are compared
image by image: :func:`check_units` refuses a set of units that breaks this paired design. Every
training of a sweep is tested on the same test split; :func:`aligned_scores` puts the scores of
several units side by side for the covariance of their test errors, and refuses units scored on
other items.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from stainworth.contracts.task import MODALITIES, TASKS, is_modality
from stainworth.contracts.task import modality_rank as contract_modality_rank
from stainworth.errors import InputDataError

SCORE_COLUMNS: dict[str, tuple[str, ...]] = {
    "segmentation": ("item", "precision", "recall", "dice"),
    "classification": ("item", "label", "score"),
}
"""Columns every scores table of a task must hold."""

PairKey = tuple[str, int | None, int, int]
"""(architecture, train_size, subset, replicate): the units of one key differ only in their modality."""


@dataclass(frozen=True, eq=False)
class UnitScores:
    """The per-test-image scores of one trained task network.

    Attributes
    ----------
    task : str
        ``"segmentation"`` or ``"classification"``.
    architecture : str
        Network name, e.g. ``"unet3"`` or ``"resnet18"``.
    modality : str
        Input images: ``label_free``, ``virtual_effunet``, ``virtual_pix2pixhd`` or ``fluorescence``.
    train_size : int or None
        Training items of a learnable-capacity unit; None for the full training split (the
        capacity sweep).
    subset : int
        Which random training subset (0-based; 0 for the capacity sweep).
    capacity : int
        Trainable parameters of the network.
    scores : pandas.DataFrame
        One row per test image with the task's :data:`SCORE_COLUMNS`.
    run : str
        Name or provenance of the unit (e.g. the store prefix of its run), kept in every table
        row computed from it.
    replicate : int
        Which training of the same (architecture, modality, train_size, subset) (0-based):
        replicates differ in initialisation and batch order, and share every data item.
    degenerate : str
        Why the kept training is still degenerate after its last attempt (e.g. a constant output);
        empty when it is not. The combined comparisons leave such trainings out.

    Notes
    -----
    Units compare by identity (``eq=False``): a scores table has no single truth value.
    """

    task: str
    architecture: str
    modality: str
    train_size: int | None
    subset: int
    capacity: int
    scores: pd.DataFrame
    run: str
    replicate: int = 0
    degenerate: str = ""

    @property
    def key(self) -> tuple[str, str, str, int | None, int, int]:
        """(task, architecture, modality, train_size, subset, replicate): unique within a set of units."""
        return self.task, self.architecture, self.modality, self.train_size, self.subset, self.replicate

    @property
    def pair_key(self) -> PairKey:
        """(architecture, train_size, subset, replicate), shared by the modalities compared image by image."""
        return self.architecture, self.train_size, self.subset, self.replicate

    def describe(self) -> str:
        """Short label for messages: the run and its key."""
        size = "full" if self.train_size is None else self.train_size
        return (f"{self.run} ({self.architecture}, {self.modality}, train_size={size}, subset {self.subset}, "
                f"replicate {self.replicate})")


def modality_rank(modality: str) -> tuple[int, str]:
    """Sort key of the reporting order: label-free, the study's stainers, external stainers, fluorescence."""
    return contract_modality_rank(modality)


def _shown(item: object) -> str:
    """A test item for messages: ``4`` or ``'a.tif'``, without numpy's type wrapper."""
    return repr(item.item() if isinstance(item, np.generic) else item)


def _check_unit(unit: UnitScores, task: str) -> None:
    if unit.task != task:
        raise InputDataError(f"mixed tasks: {unit.describe()} is {unit.task!r} but the first unit is {task!r}; "
                             "expected units of one task")
    if not is_modality(unit.modality):
        raise InputDataError(f"{unit.describe()}: modality {unit.modality!r} is unknown; expected one of "
                             f"{', '.join(MODALITIES)} or virtual_<stainer>")
    columns = SCORE_COLUMNS[task]
    missing = [column for column in columns if column not in unit.scores.columns]
    if missing:
        raise InputDataError(f"{unit.describe()}: scores lack column(s) {', '.join(missing)}; expected "
                             f"{', '.join(columns)} for {task}")
    if len(unit.scores) == 0:
        raise InputDataError(f"{unit.describe()}: scores have no rows; expected one row per test image")
    duplicated = unit.scores["item"][unit.scores["item"].duplicated()]
    if len(duplicated):
        raise InputDataError(f"{unit.describe()}: test item {_shown(duplicated.iloc[0])} appears more than once; "
                             "expected one row per test image")


def _check_unique(units: Sequence[UnitScores]) -> None:
    seen: dict[tuple[str, str, str, int | None, int, int], UnitScores] = {}
    for unit in units:
        if unit.key in seen:
            raise InputDataError(f"duplicate unit: {seen[unit.key].describe()} and {unit.describe()} have the same "
                                 "task, architecture, modality, train_size, subset and replicate; expected one unit "
                                 "per key")
        seen[unit.key] = unit


def _items(unit: UnitScores) -> pd.Series:
    return unit.scores.set_index("item")["label"] if unit.task == "classification" else unit.scores["item"]


def _check_paired(first: UnitScores, other: UnitScores) -> None:
    items_a, items_b = set(first.scores["item"]), set(other.scores["item"])
    if items_a != items_b:
        raise InputDataError(f"paired design broken: {first.describe()} and {other.describe()} score different test "
                             f"items ({len(items_a ^ items_b)} in only one of them); expected the same test items "
                             "for every modality")
    if first.task == "classification":
        labels_a, labels_b = _items(first), _items(other).reindex(_items(first).index)
        differ = np.flatnonzero(labels_a.to_numpy() != labels_b.to_numpy())
        if differ.size:
            raise InputDataError(f"paired design broken: {first.describe()} and {other.describe()} give test item "
                                 f"{_shown(labels_a.index[differ[0]])} different labels; expected the same labels for "
                                 "every modality")


def group_by_pair(units: Iterable[UnitScores]) -> dict[PairKey, dict[str, UnitScores]]:
    """Units by (architecture, train_size, subset, replicate), then by modality.

    Parameters
    ----------
    units : iterable of UnitScores
        Units of one task with unique keys.

    Returns
    -------
    dict
        ``{(architecture, train_size, subset, replicate): {modality: unit}}`` in the order first seen.
    """
    groups: dict[PairKey, dict[str, UnitScores]] = {}
    for unit in units:
        groups.setdefault(unit.pair_key, {})[unit.modality] = unit
    return groups


def check_units(units: Sequence[UnitScores]) -> str:
    """Check that the units form one task's paired design; return the task.

    Parameters
    ----------
    units : sequence of UnitScores
        The units to tabulate together.

    Returns
    -------
    str
        Their task.

    Raises
    ------
    InputDataError
        No units; an unknown task or modality; units of more than one task; a scores table
        without the task's columns, without rows or with a test item twice; two units with the
        same (task, architecture, modality, train_size, subset, replicate); or two modalities of
        one (architecture, train_size, subset, replicate) scored on different test items (or, for
        classification, with different labels for an item).
    """
    units = list(units)
    if not units:
        raise InputDataError("no units: found 0 units; expected at least one unit's scores")
    task = units[0].task
    if task not in TASKS:
        raise InputDataError(f"{units[0].describe()}: task {task!r} is unknown; expected one of {', '.join(TASKS)}")
    for unit in units:
        _check_unit(unit, task)
    _check_unique(units)
    for group in group_by_pair(units).values():
        ordered = sorted(group.values(), key=lambda unit: modality_rank(unit.modality))
        for other in ordered[1:]:
            _check_paired(ordered[0], other)
    return task


def aligned_scores(units: Sequence[UnitScores], column: str) -> tuple[np.ndarray, np.ndarray | None]:
    """One score column of several units side by side, one row per test item (sorted by item).

    Parameters
    ----------
    units : sequence of UnitScores
        Units of one task scored on the same test items (e.g. the replicates of one network, or
        every network of a sweep: all are tested on the same test split).
    column : str
        The score column (``score`` for classification, ``dice`` ...).

    Returns
    -------
    scores : numpy.ndarray
        (n_items, k) float64, column j from ``units[j]``.
    labels : numpy.ndarray or None
        (n_items,) labels of a classification task (checked equal across units), else None.

    Raises
    ------
    InputDataError
        No units, or two units scored on different test items or giving an item different labels
        (both units named).
    """
    if not units:
        raise InputDataError("no units: found 0 units; expected at least one unit to align")
    first = units[0]
    index = pd.Index(first.scores["item"]).sort_values()
    labels = first.scores.set_index("item")["label"].reindex(index).to_numpy() if first.task == "classification" \
        else None
    columns = []
    for unit in units:
        table = unit.scores.set_index("item")
        if len(table.index) != len(index) or not table.index.isin(index).all():
            raise InputDataError(f"shared test set broken: {first.describe()} and {unit.describe()} score different "
                                 f"test items ({len(set(index) ^ set(table.index))} in only one of them); expected "
                                 "every training of a sweep to be tested on the same test items")
        if labels is not None:
            theirs = table["label"].reindex(index).to_numpy()
            differ = np.flatnonzero(theirs != labels)
            if differ.size:
                raise InputDataError(f"shared test set broken: {first.describe()} and {unit.describe()} give test "
                                     f"item {_shown(index[differ[0]])} different labels; expected the same labels")
        columns.append(table[column].reindex(index).to_numpy(dtype=np.float64))
    return np.column_stack(columns), labels
