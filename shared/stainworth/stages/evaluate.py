"""The ``evaluate`` stage: a set of trained units of one task turned into the study's numbers.

Every task network is trained several times (replicates, and in the learnable sweep on several
random training subsets); every training is tested on the same test items, and every figure below
combines the trainings with an interval that covers test-set sampling and retraining
(:mod:`stainworth.evaluation`). Tables (CSV, every number with its uncertainty and the runs it
came from):

* ``capacity.csv``: per (architecture, modality) one summary row (``replicate`` empty) with the
  figures combined over the replicates (``<metric>``, ``_se``, ``_ci_low``, ``_ci_high``, ``_df``,
  ``_training_sd``, ``_se_test``; ``replicates``; ``run`` the replicates' runs joined by ``;``),
  then one row per replicate (``replicate`` 0, 1, ...) with that training's test-set figures;
* ``learnable.csv``: per (architecture, training size, modality) ``<metric>_mean`` (combined),
  ``_std`` (SD over all trainings), ``_se``, ``_ci_low``, ``_ci_high``, ``_df``, ``n_subsets``,
  ``replicates``, ``note`` and ``runs``;
* ``comparisons.csv``: every modality minus label-free on the same test items, one combined row per
  (architecture, training size, modality, metric) with its interval, df, p-value, Holm-adjusted
  p-value within its ``family`` (one modality along one sweep axis for one metric) and ``runs``;
  ``comparisons_replicates.csv``: the per-training rows behind them (DeLong for AUCs, paired
  bootstrap for Dice; test-set sampling only, not adjusted);
* ``units.csv``: one row per training: how it was trained and how it ended (training and test
  items, epochs run, best epoch, ``ended``: ``early_stop``, ``epoch_cap`` or
  ``degenerate_retrained``, attempts, why it is still degenerate, ``init_seed``), its test metric
  (``test_auc`` or ``test_dice``), its initial weights and whether the study started that network
  from ImageNet weights, for the report's deviations and figures.

The verdict (``verdict.json``: ``metric``, ``sentences``, ``details``, ``family``; ``verdict.md``):
for each virtual stain, where it scores significantly higher or lower than label-free images along
the capacity sweep and the training sizes (Holm-adjusted combined comparisons), the crossover,
the difference at the largest capacity, and whether its advantage shrinks or grows with capacity
(:mod:`stainworth.evaluation.trend`).

Analyses that need the networks and images:

* classification: the cosine distance between the control and treated class embeddings of the
  penultimate layer for low, medium and high capacity (the study's Fig. 11) on every modality
  (``embeddings.csv``), and the channelized Hotelling observer on every modality
  (``hotelling.csv``), a capacity-free linear reference;
* segmentation: the mean activation of the penultimate decoder layer for three capacities and
  every modality (Fig. 7; ``feature_maps/*.npy`` and ``.png``), and predicted-mask panels across
  capacities and across training sizes (Figs. 5 and 6; ``panels/*.png``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from stainworth.contracts.base import config_hash
from stainworth.contracts.manifest import write_manifest
from stainworth.contracts.task import MODALITIES, EvaluationManifest, Task, TasksConfig
from stainworth.errors import InputDataError
from stainworth.evaluation import (
    capacity_table,
    check_units,
    learnable_table,
    paired_comparisons,
    replicate_comparisons,
    study_verdict,
)
from stainworth.evaluation.tables import sort_rows
from stainworth.evaluation.trained import TrainedUnit, capacity_levels, load_units, test_images
from stainworth.progress import Progress
from stainworth.tasks.registry import TASK_NETS
from stainworth.tasks.sources import modality_source

VERDICT_METRIC = {"segmentation": "dice", "classification": "auc"}
PANEL_IMAGES = 4
HOTELLING_CHANNELS = 10
"""Laguerre-Gauss channels of the Hotelling observer (fewer when a class has fewer training images)."""
ANALYSIS_IMAGES = 64
"""Test images fed to the networks for feature maps (embeddings use the whole test split)."""


def evaluate_stage(config: TasksConfig, task: Task, unit_dirs: Sequence[str | Path], datasets_dir: str | Path,
                   output_dir: str | Path, *, virtual_dirs: dict[str, str | Path] | None = None,
                   n_boot: int = 2000) -> EvaluationManifest:
    """Evaluate the units of ``task``: tables, verdict and analyses, manifest last.

    Parameters
    ----------
    config
        The tasks section of the profile.
    task
        The task the units were trained for.
    unit_dirs
        ``train_task`` outputs (units of other tasks are refused).
    datasets_dir, virtual_dirs
        The ``extract`` output and the ``apply_stainer`` outputs by modality, for the analyses.
    output_dir
        Folder to write.
    n_boot
        Bootstrap resamples of every bootstrap interval.
    """
    units = [unit for folder in unit_dirs for unit in load_units(folder)]
    if not units:
        raise InputDataError(f"evaluate {task}: no trained units given; expected train_task outputs")
    found = check_units([u.scores for u in units])
    if found != task:
        raise InputDataError(f"evaluate {task}: the units are {found} units; expected {task}")
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    scores = [u.scores for u in units]
    capacity = _sweep_units(scores, capacity_sweep=True)
    learnable = _sweep_units(scores, capacity_sweep=False)
    tables: dict[str, pd.DataFrame] = {}
    if capacity:
        tables["capacity"] = capacity_table(capacity, n_boot=n_boot)
    if learnable:
        tables["learnable"] = learnable_table(learnable)
    if any(u.modality == "label_free" for u in scores) and len({u.modality for u in scores}) > 1:
        tables["comparisons"] = paired_comparisons(scores)
        tables["comparisons_replicates"] = replicate_comparisons(scores, n_boot=n_boot)
    for name, table in tables.items():
        table.to_csv(out / f"{name}.csv", index=False, lineterminator="\n", float_format="%.6g")
    units_table(units).to_csv(out / "units.csv", index=False, lineterminator="\n")
    verdict = study_verdict(task, tables, scores)
    (out / "verdict.json").write_text(json.dumps(verdict, indent=2, sort_keys=True) + "\n")
    (out / "verdict.md").write_text("\n".join(f"- {line}" for line in verdict["sentences"]) + "\n")
    sources = _Sources(datasets_dir, virtual_dirs or {})
    paths = {"tables": [f"{name}.csv" for name in tables], "verdict": ["verdict.json", "verdict.md"],
             "units": ["units.csv"]}
    if task == "classification":
        paths |= _classification_analyses(units, sources, out, n_boot)
    else:
        paths |= _segmentation_analyses(units, sources, out, config.threshold)
    manifest = EvaluationManifest(
        stage="evaluate", config=config.model_dump(mode="json"), config_hash=config_hash(config),
        input_hashes={u.scores.run.split(" ")[0]: u.manifest.content_hash for u in units},
        counts={"units": len(units), "capacity_units": len(capacity), "learnable_units": len(learnable)},
        paths=paths, metrics=_headline(task, tables), task=task, verdict=verdict["sentences"])
    return write_manifest(manifest, out)


def units_table(units: Sequence[TrainedUnit]) -> pd.DataFrame:
    """How every training went, one row per training in table order (from the unit manifests).

    Columns: ``run``, ``architecture``, ``modality``, ``train_size``, ``subset``, ``replicate``,
    ``capacity``, ``train_items``, ``test_items``, ``epochs_run``, ``best_epoch``,
    ``stopped_early``, ``ended`` (``early_stop``, ``epoch_cap`` or ``degenerate_retrained``),
    ``attempts``, ``degenerate`` (why the kept training is still degenerate; empty when it is not),
    ``init_seed``, the test metric of the task (``test_auc`` or ``test_dice``), ``weights`` (the
    manifest's record of the initial weights) and ``study_imagenet`` (the study initialised this
    network from ImageNet weights).
    """
    rows = []
    for unit in units:
        manifest = unit.manifest
        metric = VERDICT_METRIC[manifest.unit.task]
        rows.append({"run": unit.scores.run, "architecture": manifest.unit.architecture,
                     "modality": manifest.unit.modality, "train_size": manifest.unit.train_size,
                     "subset": manifest.unit.subset, "replicate": manifest.unit.replicate,
                     "capacity": manifest.trainable_parameters, "train_items": manifest.counts.get("train_items"),
                     "test_items": manifest.counts.get("test_items"), "epochs_run": manifest.counts.get("epochs_run"),
                     "best_epoch": manifest.best_epoch, "stopped_early": manifest.stopped_early,
                     "ended": manifest.ended, "attempts": manifest.attempts, "degenerate": manifest.degenerate,
                     "init_seed": manifest.init_seed, f"test_{metric}": manifest.metrics.get(f"test.{metric}"),
                     "weights": manifest.weights, "study_imagenet": TASK_NETS[manifest.unit.architecture].imagenet})
    table = pd.DataFrame(rows).astype({"train_size": "Int64"})
    return sort_rows(table, ["train_size", "subset", "replicate"])


def _sweep_units(units: list[Any], *, capacity_sweep: bool) -> list[Any]:
    return [u for u in units if (u.train_size is None) == capacity_sweep]


def _headline(task: Task, tables: dict[str, pd.DataFrame]) -> dict[str, float]:
    """The capacity table's main metric per (architecture, modality), all replicates combined, for the dashboard."""
    table = tables.get("capacity")
    if table is None:
        return {}
    metric = VERDICT_METRIC[task]
    combined = table[table["replicate"].isna()] if "replicate" in table.columns else table
    return {f"{row['architecture']}.{row['modality']}.{metric}": float(row[metric]) for _, row in combined.iterrows()}


class _Sources:
    """Opened datasets by modality, opened once."""

    def __init__(self, datasets_dir: str | Path, virtual_dirs: dict[str, str | Path]) -> None:
        self.datasets_dir, self.virtual_dirs = datasets_dir, virtual_dirs
        self._cache: dict[tuple[str, str], Any] = {}

    def get(self, unit: TrainedUnit) -> tuple[Any, str]:
        key = (unit.manifest.unit.task, unit.manifest.unit.modality)
        if key not in self._cache:
            _, dataset, field = modality_source(unit.manifest.unit, self.datasets_dir, self.virtual_dirs)
            self._cache[key] = (dataset, field)
        return self._cache[key]


def _capacity_units(units: list[TrainedUnit]) -> dict[tuple[str, str], TrainedUnit]:
    """The first replicate of every (architecture, modality) of the capacity sweep (for the figures that show one)."""
    return {(u.manifest.unit.architecture, u.manifest.unit.modality): u for u in units
            if u.manifest.unit.train_size is None and u.manifest.unit.replicate == 0}


def _classification_analyses(units: list[TrainedUnit], sources: _Sources, out: Path, n_boot: int
                             ) -> dict[str, list[str]]:
    """Class-embedding cosine distances (low, medium, high capacity) and the Hotelling reference."""
    from stainworth.analysis.embeddings import class_cosine_distance, embeddings
    from stainworth.analysis.observer import cho_auc

    by_key = _capacity_units(units)
    levels = capacity_levels(units)
    modalities = [m for m in MODALITIES if any(key[1] == m for key in by_key)]
    progress = Progress("evaluate embeddings", len(levels) * len(modalities) + len(modalities))
    rows = []
    for level, architecture in levels:
        for modality in modalities:
            unit = by_key.get((architecture, modality))
            if unit is None:
                continue
            dataset, field = sources.get(unit)
            images = test_images(dataset, field, unit.normaliser())
            labels = np.asarray(dataset.arrays("test")["label"][:])
            result = class_cosine_distance(embeddings(unit.network(), images), labels, n_boot=n_boot)
            rows.append({"level": level, "architecture": architecture, "capacity": unit.scores.capacity,
                         "modality": modality, "cosine_distance": result.distance, "ci_low": result.ci_low,
                         "ci_high": result.ci_high, "n_control": result.n_control, "n_treated": result.n_treated,
                         "run": unit.scores.run})
            progress.step(f"{architecture} {modality}")
    pd.DataFrame(rows).to_csv(out / "embeddings.csv", index=False, lineterminator="\n", float_format="%.6g")
    observers = []
    for modality in modalities:
        unit = next(u for key, u in by_key.items() if key[1] == modality)
        dataset, field = sources.get(unit)
        train, test = dataset.arrays("train"), dataset.arrays("test")
        labels = np.asarray(train["label"][:])
        channels = min(HOTELLING_CHANNELS, int(min(np.sum(labels == 0), np.sum(labels == 1))) - 1)
        observer = cho_auc(np.asarray(train[field][:]), labels, np.asarray(test[field][:]),
                           np.asarray(test["label"][:]), n_channels=max(channels, 1))
        observers.append({"modality": modality, "auc": observer.auc.auc, "se": observer.auc.se,
                          "ci_low": observer.auc.ci_low, "ci_high": observer.auc.ci_high,
                          "channels": observer.n_channels, "width_px": observer.width,
                          "training_snr": observer.training_snr})
        progress.step(f"Hotelling {modality}")
    pd.DataFrame(observers).to_csv(out / "hotelling.csv", index=False, lineterminator="\n", float_format="%.6g")
    return {"embeddings": ["embeddings.csv"], "hotelling": ["hotelling.csv"]}


def _segmentation_analyses(units: list[TrainedUnit], sources: _Sources, out: Path, threshold: float
                           ) -> dict[str, list[str]]:
    """Mean decoder activation maps (three capacities x modalities) and predicted-mask panels."""
    from stainworth.analysis.feature_maps import mask_panel_png, mean_activation_map, save_feature_map_png

    by_key = _capacity_units(units)
    levels = [architecture for _, architecture in capacity_levels(units)]
    (out / "feature_maps").mkdir(exist_ok=True)
    (out / "panels").mkdir(exist_ok=True)
    written: dict[str, list[str]] = {"feature_maps": [], "panels": []}
    for (architecture, modality), unit in sorted(by_key.items()):
        if architecture not in levels:
            continue
        dataset, field = sources.get(unit)
        mean_map = mean_activation_map(unit.network(), test_images(dataset, field, unit.normaliser(),
                                                                   ANALYSIS_IMAGES))
        stem = f"feature_maps/{architecture}-{modality}"
        np.save(out / f"{stem}.npy", mean_map)
        save_feature_map_png(mean_map, out / f"{stem}.png", f"{architecture} ({unit.scores.capacity:,} params), "
                             f"{modality}:\nmean penultimate decoder activation")
        written["feature_maps"] += [f"{stem}.npy", f"{stem}.png"]
    for modality in MODALITIES:
        across_capacity = {a: u for (a, m), u in by_key.items() if m == modality}
        if across_capacity:
            written["panels"].append(_panel(across_capacity, sources, out / "panels" / f"capacity-{modality}.png",
                                            f"{modality}: predicted masks across capacities", threshold,
                                            mask_panel_png))
        across_size = {f"n={u.manifest.unit.train_size}": u for u in units
                       if u.manifest.unit.modality == modality and u.manifest.unit.train_size is not None
                       and u.manifest.unit.subset == 0 and u.manifest.unit.replicate == 0}
        if across_size:
            written["panels"].append(_panel(across_size, sources, out / "panels" / f"sizes-{modality}.png",
                                            f"{modality}: predicted masks across training sizes (subset 0)",
                                            threshold, mask_panel_png))
    return {name: paths for name, paths in written.items() if paths}


def _panel(columns: dict[str, TrainedUnit], sources: _Sources, path: Path, title: str, threshold: float,
           draw: Any) -> str:
    """One panel: a few test images, their true masks, and one column of predicted masks per unit."""
    first = next(iter(columns.values()))
    dataset, field = sources.get(first)
    raw = np.asarray(dataset.arrays("test")[field][:PANEL_IMAGES], dtype=np.float32)
    truth = np.asarray(dataset.arrays("test")["mask"][:PANEL_IMAGES]) != 0
    predictions = {}
    for name, unit in sorted(columns.items(), key=lambda item: item[1].scores.capacity):
        with torch.no_grad():
            logits = unit.network()(torch.from_numpy(unit.normaliser().apply(raw))[:, None])
        predictions[name] = (torch.sigmoid(logits)[:, 0].numpy() >= threshold).astype(np.float32)
    draw(raw, truth.astype(np.float32), predictions, path, title=title)
    return str(path.relative_to(path.parent.parent))
