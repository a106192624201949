"""The ``train_task`` stage: task networks trained on one modality each, scored on the test split.

A unit (:class:`~stainworth.contracts.task.TaskUnit`) names the task, the network, the modality,
the training size, the subset and the replicate. The modality decides the dataset and the image field read:
``label_free`` and ``fluorescence`` come from the ``extract`` output, ``virtual_effunet`` and
``virtual_pix2pixhd`` from the ``apply_stainer`` output of that stainer (its ``fluorescence`` is
the virtual stain, with the real dataset's item indices, masks and labels). Every modality of a
unit trains on the same subset with the same seeds and is tested on the same items. Replicates
of a unit differ in their initialisation and batch order (:func:`replicate_seed`) and share every
data item. A training that learned nothing (:mod:`stainworth.tasks.degenerate`, judged on the
validation split) is retrained with a fresh seed, up to ``max_attempts`` trainings; the manifest
says how the kept training ended (``early_stop``, ``epoch_cap`` or ``degenerate_retrained``).

:func:`train_units_stage` trains several units in one process (the datasets opened and the
batches built once per modality), each into a sub-folder, and writes a
:class:`~stainworth.contracts.task.TaskGroupManifest` listing them last; a local run trains every
unit of one architecture this way, a cluster run one unit per GPU task.

The output folder holds the trained network (``model.safetensors``) with the input normalisation
it was trained with (``normaliser.json``), the per-image test scores
(``scores.csv``: precision, recall and Dice per image, or the classifier's score and the label
per nucleus), the training history (``history.csv``) and the manifest, so every statistic of a
sweep can be recomputed without retraining. Checkpoints go to the store after every epoch, so a
retried task resumes where the failed one stopped.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from stainworth.contracts.base import canonical_json, config_hash, file_sha256
from stainworth.contracts.fields import DatasetManifest
from stainworth.contracts.manifest import write_manifest
from stainworth.contracts.task import (
    HISTORY_TABLE,
    MODEL_FILE,
    NORMALISER_FILE,
    SCORES_TABLE,
    Ending,
    TaskGroupManifest,
    TaskRunManifest,
    TasksConfig,
    TaskUnit,
    network_source,
)
from stainworth.datasets.storage import Dataset
from stainworth.errors import InputDataError
from stainworth.metrics.instances import INSTANCE_METRICS
from stainworth.nets.devices import module_device, resolve_device
from stainworth.nets.normalise import PercentileNormaliser
from stainworth.nets.parameters import trainable_parameters
from stainworth.store import open_store
from stainworth.store.checkpoints import StoreCheckpoints
from stainworth.store.model_file import fetch_model_file
from stainworth.tasks import build_task_net
from stainworth.tasks.data import TaskBatches
from stainworth.tasks.degenerate import degenerate_reason, trivial_loss
from stainworth.tasks.fit import TaskFitResult, fit_task
from stainworth.tasks.fit_plan import TaskFitPlan
from stainworth.tasks.predict import predict_classification, predict_segmentation
from stainworth.tasks.sources import modality_source
from stainworth.tasks.subsets import draw_subsets
from stainworth.tasks.user_nets import check_user_net


def training_indices(config: TasksConfig, unit: TaskUnit, dataset: Dataset) -> np.ndarray | None:
    """The unit's training subset (``None``: the whole training split), the same for every modality."""
    if unit.train_size is None:
        return None
    learnable = config.sweep(unit.task).learnable
    if unit.subset >= learnable.subsets:
        raise InputDataError(f"train_task {unit.name}: subset {unit.subset}; the sweep draws "
                             f"{learnable.subsets} subsets per size (0..{learnable.subsets - 1})")
    train = dataset.arrays("train")
    labels = np.asarray(train["label"][:]) if unit.task == "classification" else None
    subsets = draw_subsets(int(train["label_free"].shape[0]), [unit.train_size], learnable.subsets,
                           config.sweep(unit.task).training.seed, labels=labels)
    return subsets[unit.train_size][unit.subset]


def validation_indices(dataset: Dataset, unit: TaskUnit, limit: int | None, seed: int) -> np.ndarray | None:
    """``limit`` validation items (``None``: all), drawn with both classes in proportion for classification.

    Items are stored by source (one condition each), so the first ``limit`` would be one class.
    """
    count = int(dataset.counts.get("val", 0))
    if limit is None or limit >= count:
        return None
    labels = np.asarray(dataset.arrays("val")["label"][:]) if unit.task == "classification" else None
    return draw_subsets(count, [limit], 1, seed, labels=labels)[limit][0]


def replicate_seed(seed: int, unit: TaskUnit, attempt: int = 0) -> int:
    """Seed of a training's initialisation and batch order.

    The four modalities of a unit share it; subsets, replicates and attempts differ.
    """
    entropy = [int(seed), int(unit.subset), int(unit.replicate), int(attempt), 0x7A5C]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def check_user_networks(units: Sequence[TaskUnit], datasets_dir: str | Path,
                        virtual_dirs: dict[str, str | Path]) -> None:
    """Build and probe every network of your own among ``units`` at their images' size, before any trains.

    Raises
    ------
    ConfigError
        One line naming the network: it cannot be built, does not take a 1-channel image of the
        dataset's size, or returns the wrong shape (:func:`stainworth.tasks.user_nets.check_user_net`).
    """
    seen: set[str] = set()
    for unit in units:
        if network_source(unit.architecture) != "user" or unit.architecture in seen:
            continue
        seen.add(unit.architecture)
        _, dataset, field = modality_source(unit, datasets_dir, virtual_dirs)
        shape = dataset.arrays("train")[field].shape
        check_user_net(unit.architecture, task=unit.task, image_px=(int(shape[-2]), int(shape[-1])),
                       field=f"train_task {unit.name}")


@dataclass
class _Splits:
    """A modality's opened dataset and its batches, shared by the units of a group."""

    manifest: DatasetManifest
    train: TaskBatches
    val: TaskBatches
    test: TaskBatches
    normaliser: PercentileNormaliser


def _splits(config: TasksConfig, unit: TaskUnit, datasets_dir: str | Path,
            virtual_dirs: dict[str, str | Path]) -> _Splits:
    training = config.sweep(unit.task).training
    manifest, dataset, field = modality_source(unit, datasets_dir, virtual_dirs)
    indices = training_indices(config, unit, dataset)
    normaliser = PercentileNormaliser.fit(dataset.arrays("train")[field])
    val_indices = validation_indices(dataset, unit, training.max_val_items, training.seed)
    return _Splits(
        manifest,
        TaskBatches(dataset, "train", field, normaliser, batch_size=training.batch_size, indices=indices,
                    augment=training.augment, min_epoch_items=training.min_epoch_items),
        TaskBatches(dataset, "val", field, normaliser, batch_size=training.batch_size, indices=val_indices),
        TaskBatches(dataset, "test", field, normaliser, batch_size=training.batch_size), normaliser)


def train_units_stage(config: TasksConfig, units: Sequence[TaskUnit], datasets_dir: str | Path,
                      output_dir: str | Path, *, virtual_dirs: dict[str, str | Path] | None = None,
                      store_uri: str | None = None, positions: Sequence[str] = ()) -> TaskGroupManifest:
    """Train several units in this process, each into ``output_dir/<unit name>``; the group manifest last.

    Parameters
    ----------
    config, datasets_dir, virtual_dirs, store_uri
        As for :func:`train_task_stage`.
    units
        The units (of one task), trained in this order.
    output_dir
        The folder to write.
    positions
        Per unit, shown in its progress lines (``run 3/60``).

    Raises
    ------
    InputDataError
        No units, units of more than one task, or two units with the same name.
    """
    units = list(units)
    names = [unit.name for unit in units]
    if not units:
        raise InputDataError("train_task: no units given; expected at least one")
    if len({unit.task for unit in units}) > 1 or len(set(names)) < len(names):
        raise InputDataError(f"train_task: units {names}; expected distinct units of one task")
    check_user_networks(units, datasets_dir, virtual_dirs or {})
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    cache: dict[tuple[str, int | None, int], _Splits] = {}
    manifests = []
    for k, unit in enumerate(units):
        key = (unit.modality, unit.train_size, unit.subset)
        if key not in cache:
            cache.clear()  # units come grouped by modality: keep one modality's batches in memory
            cache[key] = _splits(config, unit, datasets_dir, virtual_dirs or {})
        manifests.append(_train_unit(config, unit, cache[key], out / unit.name, store_uri,
                                     positions[k] if k < len(positions) else ""))
    group = TaskGroupManifest(
        stage="train_task", config=config.model_dump(mode="json"), config_hash=config_hash(config),
        input_hashes={manifest.unit.name: manifest.content_hash for manifest in manifests},
        counts={"units": len(units)}, paths={"units": names}, units=names)
    return write_manifest(group, out)


def train_task_stage(config: TasksConfig, unit: TaskUnit, datasets_dir: str | Path, output_dir: str | Path, *,
                     virtual_dirs: dict[str, str | Path] | None = None, store_uri: str | None = None,
                     position: str = "") -> TaskRunManifest:
    """Train one unit, score its test split and write the unit folder with its manifest last.

    Parameters
    ----------
    config
        The tasks section of the profile.
    unit
        What to train.
    datasets_dir
        The ``extract`` output (or one dataset folder).
    output_dir
        The unit folder to write.
    virtual_dirs
        ``apply_stainer`` outputs by modality (``virtual_effunet``, ``virtual_pix2pixhd``).
    store_uri
        Store for checkpoints and the published unit (``None``: the default store).
    position
        Shown in progress lines, e.g. ``"run 3/20"``.
    """
    check_user_networks([unit], datasets_dir, virtual_dirs or {})
    splits = _splits(config, unit, datasets_dir, virtual_dirs or {})
    return _train_unit(config, unit, splits, Path(output_dir), store_uri, position)


def _train_unit(config: TasksConfig, unit: TaskUnit, splits: _Splits, out: Path, store_uri: str | None,
                position: str) -> TaskRunManifest:
    """Train one unit (retraining a degenerate attempt), score its test split, write its folder."""
    training = config.sweep(unit.task).training
    device = resolve_device(training.device)
    store = open_store(store_uri or None)
    settings = {"unit": unit.model_dump(mode="json"), "training": training.model_dump(mode="json",
                exclude={"max_epochs", "max_epochs_by_architecture", "max_attempts", "learning_rate_by_architecture",
                         "patience_by_architecture", "plateau_patience_by_architecture"}),
                "architecture_settings": {"learning_rate": training.learning_rate_for(unit.architecture),
                                          "patience": training.patience_for(unit.architecture),
                                          "plateau_patience": training.plateau_patience_for(unit.architecture)},
                "data": splits.manifest.content_hash}
    resumable = hashlib.sha256(canonical_json(settings).encode()).hexdigest()
    out.mkdir(parents=True, exist_ok=True)
    total = config.sweep(unit.task).replicates if unit.train_size is None else config.learnable_replicates(unit.task)
    replicate = f" replicate {unit.replicate + 1}/{total}"
    prefix = f"train_task {position + ' ' if position else ''}{unit.architecture} {unit.modality} " \
             f"n={splits.train.size}{'' if unit.train_size is None else f' subset {unit.subset}'}{replicate}"
    trivial = trivial_loss(splits.val.targets)
    with tempfile.TemporaryDirectory(prefix="stainworth-task-") as scratch:
        work = Path(scratch) / "work"
        sync = StoreCheckpoints(store, f"{config.store_prefix}/checkpoints/{unit.name}-{resumable[:12]}", work)
        if sync.restore():
            print(f"{prefix}: checkpoints of an earlier attempt restored from {store.uri}", flush=True)
        weights_uri = training.weights_uris.get(unit.architecture)
        weights = None if weights_uri is None else fetch_model_file(
            weights_uri, Path(scratch), field=f"tasks.{unit.task}.training.weights_uris.{unit.architecture}")
        for attempt in range(training.max_attempts):
            init_seed = replicate_seed(training.seed, unit, attempt)
            torch.manual_seed(init_seed)
            net = build_task_net(unit.architecture, in_channels=1, weights=weights, task=unit.task)
            if training.channels_last:
                net = net.to(memory_format=torch.channels_last)
            net = net.to(device)
            plan = TaskFitPlan.from_config(training, unit.architecture, task=unit.task, seed=init_seed)
            fit = fit_task(net, splits.train, splits.val, work / f"attempt{attempt}", plan, settings=settings,
                           prefix=prefix, log=sync.printer(prefix + " epoch"))
            sync.push()  # a training that stopped early leaves its state alone: the store drops the weights
            reason = degenerate_reason(fit.best, trivial)
            if not reason:
                break
            more = attempt + 1 < training.max_attempts
            print(f"{prefix}: attempt {attempt + 1} is degenerate: {reason}; "
                  f"{'retraining with a fresh seed' if more else 'no attempt left, kept and flagged'}", flush=True)
        shutil.copyfile(fit.weights, out / MODEL_FILE)
        origin = "none (trained from scratch)" if weights is None else f"{weights.name} sha256:{file_sha256(weights)}"
    ending: Ending = "degenerate_retrained" if attempt else "early_stop" if fit.stopped_early else "epoch_cap"
    metrics = _score_test(net, splits.test, unit, config.threshold, training.bf16, out)
    (out / NORMALISER_FILE).write_text(json.dumps(splits.normaliser.to_dict(), sort_keys=True) + "\n")
    pd.DataFrame(fit.history).to_csv(out / HISTORY_TABLE, index=False, lineterminator="\n")
    written = write_manifest(_manifest(config, unit, splits, net, fit, metrics, origin,
                                       _Ending(ending, attempt + 1, reason, init_seed)), out)
    store.publish_dir(out, f"{config.store_prefix}/units/{unit.name}-{written.content_hash[:12]}")
    return written


@dataclass(frozen=True)
class _Ending:
    """How the kept training of a replicate came about."""

    ended: Ending
    attempts: int
    degenerate: str
    init_seed: int


def _score_test(net: torch.nn.Module, test: TaskBatches, unit: TaskUnit, threshold: float, bf16: bool,
                out: Path) -> dict[str, float]:
    """Write the per-image test scores; return their means."""
    if unit.task == "segmentation":
        scores = predict_segmentation(net, test, threshold=threshold, bf16=bf16, instances=test.instance_labels())
        names = [name for name in ("precision", "recall", "dice", *INSTANCE_METRICS) if name in scores]
        table = pd.DataFrame({"item": scores["indices"]} | {name: scores[name] for name in names})
        metrics = {f"test.{name}": float(table[name].mean()) for name in names}  # NaN skipped; NaN if all are
    else:
        from stainworth.metrics import empirical_auc

        values, labels = predict_classification(net, test, bf16=bf16)
        table = pd.DataFrame({"item": test.indices, "label": labels, "score": values})
        metrics = {"test.auc": empirical_auc(values, labels).auc}
    table.to_csv(out / SCORES_TABLE, index=False, lineterminator="\n", float_format="%.9g")
    return metrics


def _manifest(config: TasksConfig, unit: TaskUnit, splits: _Splits, net: torch.nn.Module, fit: TaskFitResult,
              metrics: dict[str, float], origin: str, ending: _Ending) -> TaskRunManifest:
    training = config.sweep(unit.task).training
    train, val, test = splits.train, splits.val, splits.test
    return TaskRunManifest(
        stage="train_task", config=config.model_dump(mode="json"), config_hash=config_hash(config),
        input_hashes={unit.modality: splits.manifest.content_hash},
        paths={"model": [MODEL_FILE], "normaliser": [NORMALISER_FILE], "scores": [SCORES_TABLE],
               "history": [HISTORY_TABLE]},
        counts={"train_items": train.size, "val_items": val.size, "test_items": test.size,
                "epochs_run": fit.epochs_run},
        metrics=metrics | {"val_loss": fit.best["val_loss"], "data_wait_share": fit.data_share,
                           "train_seconds": float(sum(row["seconds"] for row in fit.history))},
        unit=unit, trainable_parameters=trainable_parameters(net), weights=origin, best_epoch=fit.best_epoch,
        stopped_early=fit.stopped_early, ended=ending.ended, attempts=ending.attempts, degenerate=ending.degenerate,
        seed=training.seed, init_seed=ending.init_seed, device=str(module_device(net)))
