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
  segmentation compares the Dice and the instance AP over IoU 0.50:0.95 (:data:`COMPARED_METRICS`);
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

Analyses that need the networks and images (:mod:`stainworth.analysis.unit_analyses`,
:mod:`stainworth.report.mask_panels`):

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

import pandas as pd

from stainworth.analysis.unit_analyses import classification_analyses, feature_map_files
from stainworth.contracts.base import config_hash
from stainworth.contracts.manifest import write_manifest
from stainworth.contracts.task import SECONDARY_METRIC, VERDICT_METRIC, EvaluationManifest, Task, TasksConfig
from stainworth.errors import InputDataError
from stainworth.evaluation import (
    capacity_table,
    check_units,
    learnable_table,
    paired_comparisons,
    replicate_comparisons,
    study_verdict,
)
from stainworth.evaluation.tables import metrics_of
from stainworth.evaluation.trained import load_units
from stainworth.evaluation.trainings import headline_metrics, sweep_units, units_table
from stainworth.report.mask_panels import mask_panels
from stainworth.tasks.sources import ModalitySources

COMPARED_METRICS = (VERDICT_METRIC["segmentation"], SECONDARY_METRIC["segmentation"])
"""Segmentation scores compared with label-free (each its own Holm family); the verdict decides on Dice."""


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
    capacity = sweep_units(scores, capacity_sweep=True)
    learnable = sweep_units(scores, capacity_sweep=False)
    tables: dict[str, pd.DataFrame] = {}
    if capacity:
        tables["capacity"] = capacity_table(capacity, n_boot=n_boot)
    if learnable:
        tables["learnable"] = learnable_table(learnable)
    if any(u.modality == "label_free" for u in scores) and len({u.modality for u in scores}) > 1:
        compared = tuple(metric for metric in COMPARED_METRICS if metric in metrics_of(scores))  # classification: AUC
        tables["comparisons"] = paired_comparisons(scores, metrics=compared or ("dice",))
        tables["comparisons_replicates"] = replicate_comparisons(scores, metrics=compared or ("dice",), n_boot=n_boot)
    for name, table in tables.items():
        table.to_csv(out / f"{name}.csv", index=False, lineterminator="\n", float_format="%.6g")
    units_table(units).to_csv(out / "units.csv", index=False, lineterminator="\n")
    verdict = study_verdict(task, tables, scores)
    (out / "verdict.json").write_text(json.dumps(verdict, indent=2, sort_keys=True) + "\n")
    (out / "verdict.md").write_text("\n".join(f"- {line}" for line in verdict["sentences"]) + "\n")
    sources = ModalitySources(datasets_dir, virtual_dirs or {})
    paths = {"tables": [f"{name}.csv" for name in tables], "verdict": ["verdict.json", "verdict.md"],
             "units": ["units.csv"]}
    extra_metrics: dict[str, float] = {}
    if task == "classification":
        written, extra_metrics = classification_analyses(units, sources, out, n_boot)
        paths |= written
    else:
        written = {"feature_maps": feature_map_files(units, sources, out),
                   "panels": mask_panels(units, sources, out, config.threshold)}
        paths |= {name: files for name, files in written.items() if files}
    manifest = EvaluationManifest(
        stage="evaluate", config=config.model_dump(mode="json"), config_hash=config_hash(config),
        input_hashes={u.scores.run.split(" ")[0]: u.manifest.content_hash for u in units},
        counts={"units": len(units), "capacity_units": len(capacity), "learnable_units": len(learnable)},
        paths=paths, metrics=headline_metrics(task, tables) | extra_metrics, task=task, verdict=verdict["sentences"])
    return write_manifest(manifest, out)
