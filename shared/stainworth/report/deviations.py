"""Where a run departs from the study, in plain sentences, derived from what the inputs record.

The study's settings are this package's defaults, which follow it: the ladders, learnable sweeps
and training recipe of :class:`~stainworth.contracts.task.TasksConfig` and the dataset sizes of
:class:`~stainworth.contracts.prepare.ExtractConfig`. Each evaluation's configuration (the tasks
section the units were trained with, saved in its manifest) and its ``units.csv`` (one row per
training: training items, epochs, how it ended, initial weights) are compared with them:

- networks the study initialised from ImageNet weights that started from random weights here;
- capacity ladder, learnable-capacity architecture, sizes and subsets other than the study's;
- training settings the study states (learning rate, batch size, patience, augmentation,
  validation items, bf16) set otherwise;
- trainings that ran to their epoch cap (``ended`` = ``epoch_cap``; the study's networks all
  stopped early), trainings retrained after a degenerate attempt (``degenerate_retrained``) and
  trainings kept although still degenerate, each with its share overall and per network;
- fewer training or test images than the study's datasets;
- virtual stains absent from the evaluation;
- stainer training settings other than the study's (from each ``stain_report``'s recorded
  training configuration): encoder, learning rates, normalisation layers, padding, Pix2pixHD's L1 term,
  the early-stopping rule;
- phantom instead of real images.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
from pydantic import ValidationError

from stainworth.contracts.base import format_validation_error
from stainworth.contracts.prepare import ExtractConfig
from stainworth.contracts.stainer import StainerTrainConfig
from stainworth.contracts.task import MODALITIES, TasksConfig, TaskSweepConfig, network_source
from stainworth.errors import InputDataError
from stainworth.report.endings import ALL, ending_shares, share, still_degenerate
from stainworth.report.inputs import Evaluation, StainQuality
from stainworth.report.labels import count, modality_name, network_label

STUDY_TRAINING_FIELDS = ("learning_rate", "batch_size", "patience", "augment", "max_val_items", "min_epoch_items",
                         "bf16")
"""Training settings the study states; others (seed, epoch caps) it leaves open."""


def tasks_config(evaluation: Evaluation) -> TasksConfig:
    """The tasks configuration an evaluation's units were trained with (from its manifest).

    Raises
    ------
    InputDataError
        The manifest's configuration is not a valid tasks configuration.
    """
    try:
        return TasksConfig.model_validate(evaluation.manifest.config)
    except ValidationError as error:
        raise InputDataError(format_validation_error(error, where=f"{evaluation.folder} manifest config")) from None


def _names(items: Iterable[Any]) -> str:
    return ", ".join(str(item) for item in items)


def data_source_deviation(data_source: str) -> list[str]:
    """A sentence when the images are not real acquisitions."""
    if data_source.startswith("phantom"):
        return ["The images are phantom (simulated) acquisitions, not the study's cell images: the numbers "
                "exercise the pipeline and the phantom's treatment effect, not the biology."]
    return []


def weights_deviation(task: str, units: pd.DataFrame | None) -> list[str]:
    """Networks the study started from ImageNet weights that were trained from scratch here."""
    if units is None:
        return []
    imagenet = units["study_imagenet"].astype(str).str.lower() == "true"
    scratch = units["weights"].astype(str).str.startswith("none")
    affected = list(dict.fromkeys(units.loc[imagenet & scratch, "architecture"].astype(str)))
    if not affected:
        return []
    return [f"{task}: {_names(affected)} trained from scratch because no ImageNet weights were supplied "
            f"(tasks.{task}.training.weights_uris); the study initialised their encoders with ImageNet weights."]


def ladder_deviation(task: str, evaluation: Evaluation, study: TaskSweepConfig) -> list[str]:
    """A capacity ladder other than the study's (only when the capacity sweep ran)."""
    capacity = evaluation.table("capacity")
    if capacity is None:
        return []
    tried = list(dict.fromkeys(capacity.sort_values("capacity", kind="stable")["architecture"].astype(str)))
    if tried == list(study.architectures):
        return []
    sentence = f"{task}: capacity sweep over {_names(network_label(name) for name in tried)}; the study's ladder " \
               f"is {_names(study.architectures)}."
    own = [name for name in tried if network_source(name) == "user"]
    if own:
        sentence += (f" {_names(own)} {'is a network' if len(own) == 1 else 'are networks'} of your own, placed on "
                     "the capacity axis by counted trainable parameters.")
    return [sentence]


def learnable_deviation(task: str, evaluation: Evaluation, study: TaskSweepConfig) -> list[str]:
    """A learnable-capacity sweep other than the study's (only when it ran)."""
    learnable = evaluation.table("learnable")
    if learnable is None:
        return []
    architectures = list(dict.fromkeys(learnable["architecture"].astype(str)))
    sizes = sorted({int(size) for size in learnable["train_size"]})
    subsets = int(learnable["n_subsets"].max())
    expected = study.learnable
    if (architectures, sizes, subsets) == ([expected.architecture], expected.sizes, expected.subsets):
        return []
    return [f"{task}: learnable-capacity sweep of {_names(architectures)} on {_names(f'{s:,}' for s in sizes)} "
            f"training images, {subsets} subset(s) each; the study: {expected.architecture} on "
            f"{_names(f'{s:,}' for s in expected.sizes)}, {expected.subsets} subsets each."]


def training_deviation(task: str, run: TaskSweepConfig, study: TaskSweepConfig) -> list[str]:
    """Training settings the study states that the run set otherwise."""
    ours, theirs = run.training.model_dump(), study.training.model_dump()
    changed = [f"{name} {ours[name]} (the study: {theirs[name]})" for name in STUDY_TRAINING_FIELDS
               if ours[name] != theirs[name]]
    if not changed:
        return []
    return [f"{task}: training settings differ from the study's: {'; '.join(changed)}."]


def _epochs(value: Any) -> str:
    return f" after {count(value)} epoch{'' if value == 1 else 's'}"


def _per_architecture(shares: pd.DataFrame, ending: str, after: pd.Series | None = None) -> str:
    """``resnet18 4 of 6 (67%)`` per network with ``ending`` (``after 5 epochs`` when ``after`` names its epochs)."""
    rows = shares[(shares["architecture"] != ALL) & (shares[ending] > 0)]
    return _names(f"{row['architecture']} {share(int(row[ending]), int(row['trainings']))}"
                  + ("" if after is None else _epochs(after.get(row["architecture"])))
                  for _, row in rows.iterrows())


def epoch_cap_deviation(task: str, run: TaskSweepConfig, units: pd.DataFrame | None) -> list[str]:
    """Trainings that ran to their epoch cap instead of stopping early (``ended`` = ``epoch_cap``), with their share."""
    if units is None:
        return []
    shares = ending_shares(units)
    total, capped = int(shares.iloc[0]["trainings"]), int(shares.iloc[0]["epoch_cap"])
    if not capped:
        return []
    capped_units = units[units["ended"].astype(str) == "epoch_cap"]
    epochs = capped_units.groupby(capped_units["architecture"].astype(str))["epochs_run"].max()
    return [f"{task}: {share(capped, total)} trainings ran to their epoch cap without early stopping (patience "
            f"{run.training.patience}); per network: {_per_architecture(shares, 'epoch_cap', epochs)}; the study's "
            "networks all stopped early, so these may be under-trained."]


def degenerate_deviation(task: str, units: pd.DataFrame | None) -> list[str]:
    """Trainings retrained after a degenerate attempt, and those kept although still degenerate."""
    if units is None:
        return []
    shares = ending_shares(units)
    total = int(shares.iloc[0]["trainings"])
    sentences = []
    retrained = int(shares.iloc[0]["degenerate_retrained"])
    if retrained:
        per_network = _per_architecture(shares, "degenerate_retrained")
        sentences.append(f"{task}: {share(retrained, total)} trainings were degenerate (e.g. a constant output) and "
                         f"retrained with a fresh seed (per network: {per_network}); the study reports no such "
                         "retraining.")
    flagged = units[still_degenerate(units)]
    if not flagged.empty:
        first = flagged.iloc[0]
        sentences.append(f"{task}: {share(len(flagged), total)} trainings are still degenerate after their last "
                         f"attempt and enter the statistics as they are (per network: "
                         f"{_per_architecture(shares, 'still_degenerate')}; e.g. {first['run']}: "
                         f"{first['degenerate']}).")
    return sentences


def data_size_deviation(task: str, units: pd.DataFrame | None, study: ExtractConfig) -> list[str]:
    """Fewer training or test images than the study's dataset."""
    if units is None:
        return []
    counts = getattr(study, task).counts
    full = units[units["train_size"].isna()] if "train_size" in units else units
    sentences = []
    if not full.empty and int(full["train_items"].max()) < counts.train:
        sentences.append(f"{task}: the capacity sweep trained on {count(full['train_items'].max())} images; "
                         f"the study's training split holds {counts.train:,}.")
    if "test_items" in units and units["test_items"].notna().any() and int(units["test_items"].max()) < counts.test:
        sentences.append(f"{task}: {count(units['test_items'].max())} test images; the study tested on "
                         f"{counts.test:,}.")
    return sentences


def modalities_deviation(task: str, evaluation: Evaluation) -> list[str]:
    """Modalities of the study the evaluation holds no unit of."""
    present: set[str] = set()
    for name in ("capacity", "learnable"):
        table = evaluation.table(name)
        if table is not None:
            present |= set(table["modality"].astype(str))
    missing = [modality_name(m) for m in MODALITIES if m not in present]
    if not missing or not present:
        return []
    return [f"{task}: no {_names(missing)} units; the figures show only the modalities evaluated."]


def stainer_deviation(quality: StainQuality) -> list[str]:
    """One sentence per dataset whose stainers were trained otherwise than the study states."""
    recorded = quality.manifest.config.get("training")
    if not isinstance(recorded, dict):
        return []  # an older stain_report: its training settings were not recorded
    try:
        run = StainerTrainConfig.model_validate(recorded)
    except ValidationError as error:
        raise InputDataError(format_validation_error(error, where=f"{quality.folder} manifest config")) from None
    study, parts = StainerTrainConfig(), []
    unet, their_unet, gan, their_gan = run.efficientunet, study.efficientunet, run.pix2pixhd, study.pix2pixhd
    if unet.encoder != "efficientnet-b7":
        parts.append(f"EfficientUNet encoder {unet.encoder} (study: efficientnet-b7)")
    if unet.learning_rate != their_unet.learning_rate:
        parts.append(f"EfficientUNet learning rate {unet.learning_rate:g} (study: {their_unet.learning_rate:g})")
    if unet.norm != their_unet.norm:
        parts.append(f"EfficientUNet {unet.norm} normalisation (study: {their_unet.norm})")
    if unet.padding != "zeros":
        parts.append("EfficientUNet's one-sided paddings filled with the image's content (study: an off-the-shelf "
                     "network, zeros)")
    if gan.norm != their_gan.norm:
        parts.append(f"Pix2pixHD {gan.norm} normalisation (study: {their_gan.norm})")
    if gan.upsample != their_gan.upsample:
        parts.append(f"Pix2pixHD {gan.upsample} upsampling (study: {their_gan.upsample} convolutions)")
    if gan.lambda_l1 != their_gan.lambda_l1:
        parts.append(f"Pix2pixHD with an L1 term of weight {gan.lambda_l1:g} beside the study's Eq. 1")
    if run.batch_size != study.batch_size:
        parts.append(f"batch {run.batch_size} (study: {study.batch_size})")
    if run.patience != study.patience or run.min_improvement:
        rule = f"{run.patience} epochs without a {run.min_improvement:.0%} lower validation loss" if \
            run.min_improvement else f"{run.patience} epochs without a lower validation loss"
        parts.append(f"early stopping after {rule} (study: {study.patience} epochs without a lower one)")
    if not parts:
        return []
    return [f"{quality.kind} stainers: " + "; ".join(parts) + "."]


def deviations(evaluations: Sequence[Evaluation], data_source: str,
               qualities: Sequence[StainQuality] = ()) -> list[str]:
    """Every departure from the study that the evaluations and the data source show, in plain sentences.

    Parameters
    ----------
    evaluations : sequence of Evaluation
        The evaluate outputs of the report, one per task.
    data_source : str
        Where the images came from, as the report states it (``phantom ...`` or ``real ...``).
    qualities : sequence of StainQuality
        The stain_report outputs of the report (their recorded stainer training settings).

    Returns
    -------
    list of str
        Sentences, data source first, then per task in the order given.
    """
    study, study_data = TasksConfig(), ExtractConfig()
    sentences = data_source_deviation(data_source)
    for evaluation in evaluations:
        task = evaluation.task
        run, theirs = tasks_config(evaluation).sweep(task), study.sweep(task)
        units = evaluation.table("units")
        sentences += weights_deviation(task, units)
        sentences += ladder_deviation(task, evaluation, theirs)
        sentences += learnable_deviation(task, evaluation, theirs)
        sentences += training_deviation(task, run, theirs)
        sentences += epoch_cap_deviation(task, run, units)
        sentences += degenerate_deviation(task, units)
        sentences += data_size_deviation(task, units, study_data)
        sentences += modalities_deviation(task, evaluation)
    for quality in qualities:
        sentences += stainer_deviation(quality)
    return sentences
