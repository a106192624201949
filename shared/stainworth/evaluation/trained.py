"""Trained units read back from their folders: scores for the tables, networks for the analyses.

A ``train_task`` output holds the unit's manifest, its per-image test scores, its trained weights
and the input normalisation it was trained with. The analyses that need the networks (class
embeddings, decoder feature maps, mask panels) rebuild each network by name, load its weights
and feed it the test images of its own modality, normalised as in training.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file

from stainworth.contracts.manifest import MANIFEST_NAME, read_manifest
from stainworth.contracts.task import (
    MODEL_FILE,
    NORMALISER_FILE,
    SCORES_TABLE,
    TaskGroupManifest,
    TaskRunManifest,
)
from stainworth.datasets.storage import Dataset
from stainworth.errors import InputDataError
from stainworth.evaluation.units import UnitScores
from stainworth.nets.normalise import PercentileNormaliser
from stainworth.tasks import build_task_net


@dataclass(frozen=True, eq=False)
class TrainedUnit:
    """A unit folder: its manifest and its per-image scores."""

    folder: Path
    manifest: TaskRunManifest
    scores: UnitScores

    def network(self) -> torch.nn.Module:
        """The trained network in evaluation mode (weights loaded, no ImageNet file needed)."""
        unit = self.manifest.unit
        net = build_task_net(unit.architecture, in_channels=1, task=unit.task)
        try:
            net.load_state_dict(load_file(str(self.folder / MODEL_FILE)))
        except (OSError, RuntimeError) as error:
            raise InputDataError(f"{self.folder / MODEL_FILE}: not the weights of a {unit.architecture} "
                                 f"({type(error).__name__})") from None
        return net.eval()

    def normaliser(self) -> PercentileNormaliser:
        """The input normalisation the network was trained with."""
        return PercentileNormaliser.from_dict(json.loads((self.folder / NORMALISER_FILE).read_text()))


def load_unit(folder: str | Path) -> TrainedUnit:
    """Read a ``train_task`` output folder.

    Raises
    ------
    InputDataError
        A folder without a complete manifest (an unfinished unit), or without its scores table.
    """
    path = Path(folder)
    manifest = read_manifest(TaskRunManifest, path)
    table = path / SCORES_TABLE
    if not table.is_file():
        raise InputDataError(f"{path}: no {SCORES_TABLE}; expected a train_task output")
    unit = manifest.unit
    scores = UnitScores(task=unit.task, architecture=unit.architecture, modality=unit.modality,
                        train_size=unit.train_size, subset=unit.subset, capacity=manifest.trainable_parameters,
                        scores=pd.read_csv(table), run=f"{unit.name} ({manifest.content_hash[:12]})",
                        replicate=unit.replicate, degenerate=manifest.degenerate or "")
    return TrainedUnit(path, manifest, scores)


def load_units(folder: str | Path) -> list[TrainedUnit]:
    """The units of a ``train_task`` output: every sub-folder its group manifest lists, or the folder itself.

    Raises
    ------
    InputDataError
        As :func:`load_unit`, for the folder or any unit it lists.
    """
    path = Path(folder)
    try:
        data = json.loads((path / MANIFEST_NAME).read_text())
    except (OSError, json.JSONDecodeError):
        data = {}
    if isinstance(data, dict) and "units" in data and "unit" not in data:
        group = read_manifest(TaskGroupManifest, path)
        return [load_unit(path / name) for name in group.units]
    return [load_unit(path)]


def first_replicates(units: list[TrainedUnit]) -> dict[tuple[str, str], TrainedUnit]:
    """The first replicate of every (architecture, modality) of the capacity sweep (for the figures that show one)."""
    return {(u.manifest.unit.architecture, u.manifest.unit.modality): u for u in units
            if u.manifest.unit.train_size is None and u.manifest.unit.replicate == 0}


def capacity_levels(units: Sequence[TrainedUnit]) -> list[tuple[str, str]]:
    """``(level, architecture)`` of low, medium and high capacity in the capacity sweep (fewer if fewer trained)."""
    parameters: dict[str, int] = {}
    for u in units:
        if u.manifest.unit.train_size is None:
            parameters.setdefault(u.manifest.unit.architecture, u.manifest.trainable_parameters)
    if not parameters:
        return []
    ordered = sorted(parameters, key=lambda name: (parameters[name], name))  # the ladders and networks of your own
    picks = {"low": ordered[0], "medium": ordered[(len(ordered) - 1) // 2], "high": ordered[-1]}
    chosen: list[tuple[str, str]] = []
    for level, architecture in picks.items():
        if architecture not in [a for _, a in chosen]:
            chosen.append((level, architecture))
    return chosen


def test_images(dataset: Dataset, field: str, normaliser: PercentileNormaliser, limit: int | None = None
                ) -> np.ndarray:
    """The first ``limit`` test images of ``field`` (all when ``None``), normalised."""
    array = dataset.arrays("test")[field]
    count = int(array.shape[0]) if limit is None else min(limit, int(array.shape[0]))
    return normaliser.apply(np.asarray(array[:count], dtype=np.float32))
