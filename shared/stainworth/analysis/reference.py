"""The reference-observer table: how much class and boundary signal each modality of the phantom carries.

For every phantom setting (:func:`~stainworth.analysis.reference_settings.axis_settings`: the default
and two values of each modality-specific axis) the same recipe runs on label-free phase and on
H3K27me3 fluorescence canvases of the same nuclei (:func:`~stainworth.analysis.reference_nuclei.collect_nuclei`):

* ``feature:<name>``: AUC of one hand-made feature (:mod:`~stainworth.analysis.nucleus_features`)
  over every drawn nucleus, with DeLong's 95 % interval;
* ``cho``: the Laguerre-Gauss channelized Hotelling observer (:func:`~stainworth.analysis.observer.cho_auc`)
  fitted on the train and val nuclei, AUC on the test nuclei;
* ``<network>``: the network trained with replicates (:mod:`~stainworth.analysis.reference_network`),
  the replicates combined; ``<network>:r<k>`` each replicate;
* ``classical``: Dice of the classical labeller against the true nuclei, the mean over every
  rendered field (:mod:`~stainworth.analysis.reference_segmentation`), also on Lamin A/C.

Nothing here changes a phantom value: the table measures the phantom as configured.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TextIO

import numpy as np

from stainworth.analysis.nucleus_features import feature_aucs
from stainworth.analysis.observer import cho_auc
from stainworth.analysis.reference_network import TrainingCache, train_replicates, write_canvases
from stainworth.analysis.reference_nuclei import NucleusCrops, RegisteredField, collect_nuclei, split_counts
from stainworth.analysis.reference_segmentation import MARKERS, field_dice, mean_with_interval
from stainworth.analysis.reference_settings import PhantomSetting
from stainworth.contracts.phantom import PhantomConfig
from stainworth.contracts.task import TaskTrainingConfig
from stainworth.errors import ConfigError
from stainworth.progress import Progress

MODALITIES = {"label_free": "label_free", "h3k27me3": "fluorescence"}
"""Modality of the table -> canvas field of :class:`NucleusCrops`."""


@dataclass(frozen=True)
class ReferenceRow:
    """One measured value of the table.

    Attributes
    ----------
    setting, axis, level : str
        The phantom setting (:class:`~stainworth.analysis.reference_settings.PhantomSetting`).
    modality : str
        ``label_free``, ``h3k27me3`` or (classical Dice only) ``lamin_a_c``.
    observer : str
        ``feature:<name>``, ``cho``, ``<network>``, ``<network>:r<k>`` or ``classical``.
    metric : str
        ``auc`` (treated vs control) or ``dice``.
    estimate, ci_low, ci_high : float
        The value and its 95 % interval.
    n : int
        Nuclei of each class it was measured on (test nuclei for the trained observers), or fields (Dice).
    note : str
        How a training ended, or why an interval is limited; empty otherwise.
    """

    setting: str
    axis: str
    level: str
    modality: str
    observer: str
    metric: str
    estimate: float
    ci_low: float
    ci_high: float
    n: int
    note: str = ""


@dataclass
class ReferenceTable:
    """The rows of every setting and what they were measured with."""

    settings: list[PhantomSetting]
    network_settings: list[str]
    nuclei_per_class: int
    replicates: int
    architecture: str
    max_epochs: int | None
    rows: list[ReferenceRow] = field(default_factory=list)
    fields: dict[str, int] = field(default_factory=dict)
    """Fields rendered per setting."""
    network_seconds: list[float] = field(default_factory=list)
    """Training time of every network replicate (all attempts)."""
    seconds: float = 0.0


def _auc_row(setting: PhantomSetting, modality: str, observer: str, auc, n: int, note: str = "") -> ReferenceRow:  # noqa: ANN001
    return ReferenceRow(setting.name, setting.axis, setting.level, modality, observer, "auc", auc.auc, auc.ci_low,
                        auc.ci_high, n, "; ".join(part for part in (note, auc.note) if part))


def cheap_rows(setting: PhantomSetting, crops: NucleusCrops) -> list[ReferenceRow]:
    """Feature AUCs (every nucleus) and the CHO's test AUC (fitted on train + val) of both modalities."""
    rows = []
    fit = np.flatnonzero(crops.split != "test")
    test = crops.where("test")
    per_class = int(np.count_nonzero(crops.label == 0))
    for modality, image_field in MODALITIES.items():
        images = crops.image(image_field)
        for name, auc in feature_aucs(images, crops.mask, crops.label).items():
            rows.append(_auc_row(setting, modality, f"feature:{name}", auc, per_class))
        observer = cho_auc(images[fit], crops.label[fit], images[test], crops.label[test])
        rows.append(_auc_row(setting, modality, "cho", observer.auc, test.size // 2))
    return rows


def dice_rows(setting: PhantomSetting, dice: list[dict[str, float]]) -> list[ReferenceRow]:
    """Mean classical Dice over the fields, per modality of :data:`MARKERS`."""
    rows = []
    for modality in MARKERS:
        summary = mean_with_interval(np.array([values[modality] for values in dice]), bounds=(0.0, 1.0))
        rows.append(ReferenceRow(setting.name, setting.axis, setting.level, modality, "classical", "dice",
                                 summary.estimate, summary.ci_low, summary.ci_high, summary.n))
    return rows


def images_key(crops: NucleusCrops, image_field: str) -> str:
    """SHA-256 of everything a network trained on ``image_field`` sees: images, masks, labels, splits.

    Trainings are deterministic given their data and seeds, so two settings whose crops share this
    key (a marker-only change leaves the phase images as they were) give the same trainings.
    """
    digest = hashlib.sha256()
    for array in (crops.image(image_field), crops.mask, crops.label, crops.split):
        values = np.ascontiguousarray(array)
        digest.update(f"{values.dtype.str}{values.shape}".encode())
        digest.update(values.tobytes())
    return digest.hexdigest()


def network_rows(setting: PhantomSetting, crops: NucleusCrops, training: TaskTrainingConfig, *, architecture: str,
                 replicates: int, max_epochs: int | None, log: Callable[[str], None],
                 on_training: Callable[[str, float], None],
                 trained: dict[str, tuple[str, list[ReferenceRow]]] | None = None,
                 cache: Path | None = None) -> list[ReferenceRow]:
    """Per-replicate and combined test AUCs of the network on both modalities.

    ``trained`` maps :func:`images_key` to the setting and rows of trainings already made in this
    table; images seen before reuse those rows (the note names the setting), new ones are added.
    ``cache`` is a folder of finished trainings (:class:`~stainworth.analysis.reference_network.TrainingCache`)
    read before training and added to after each replicate; ``None`` trains every replicate.
    """
    rows: list[ReferenceRow] = []
    trained = {} if trained is None else trained
    n_test = crops.where("test").size // 2
    with tempfile.TemporaryDirectory(prefix="stainworth-reference-data-") as scratch:
        folder = Path(scratch) / "canvases"
        write_canvases(folder, {"label_free": crops.label_free, "fluorescence": crops.fluorescence}, crops.mask,
                       crops.label, crops.split)
        for modality, image_field in MODALITIES.items():
            key = images_key(crops, image_field)
            if key in trained:
                source, earlier = trained[key]
                same = f"same images as `{source}`: its trainings"
                rows += [replace(row, setting=setting.name, axis=setting.axis, level=setting.level,
                                 note="; ".join(part for part in (same, row.note) if part)) for row in earlier]
                on_training(modality, 0.0)
                continue
            result = train_replicates(folder, image_field, training, architecture=architecture,
                                      replicates=replicates, max_epochs=max_epochs, log=log,
                                      cache=None if cache is None else TrainingCache(cache, key))
            made = []
            for k, run in enumerate(result.trainings, start=1):
                ended = "early stop" if run.stopped_early else "epoch cap"
                note = f"{ended} at epoch {run.epochs} (best {run.best_epoch}), {run.attempts} attempt(s)"
                if run.degenerate:
                    note += f"; degenerate: {run.degenerate}"
                made.append(_auc_row(setting, modality, f"{architecture}:r{k}", run.auc, n_test, note))
            combined = result.combined
            made.append(ReferenceRow(setting.name, setting.axis, setting.level, modality, architecture, "auc",
                                     combined.estimate, combined.ci_low, combined.ci_high, n_test, combined.note))
            trained[key] = (setting.name, made)
            rows += made
            on_training(modality, sum(run.seconds for run in result.trainings))
    return rows


def check_options(*, nuclei_per_class: int, replicates: int, seed: int) -> None:
    """Refuse too few nuclei, fewer than one replicate or a negative seed (before any work starts).

    Raises
    ------
    ConfigError
        Naming the option and the value found.
    """
    split_counts(nuclei_per_class)
    for name, value, low in (("replicates", replicates, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"{name}: found {value!r}; expected an integer >= {low}")


def reference_observer_table(base: PhantomConfig, training: TaskTrainingConfig, settings: list[PhantomSetting], *,
                             network_settings: list[str], nuclei_per_class: int = 2000, replicates: int = 3,
                             architecture: str = "resnet18", seed: int = 0, canvas: int = 48,
                             max_epochs: int | None = None, stream: TextIO | None = None,
                             cache: Path | None = None) -> ReferenceTable:
    """Measure every observer of the module docstring at every setting.

    Parameters
    ----------
    base
        Phantom configuration the settings are applied to (the defaults for the documented table).
    training
        Network training settings (the ``mini`` profile's ``tasks.classification.training``).
    settings
        The settings, in table order.
    network_settings
        Names of the settings at which the network is trained (a subset of ``settings``).
    nuclei_per_class, replicates, architecture, seed, canvas
        Nuclei of each class per setting; network replicates; network; seed of fields, draws and
        trainings; canvas side (px).
    max_epochs
        Network epoch cap (``None``: the profile's); a lower cap is for quick looks only.
    stream
        Where progress lines go (default standard output).
    cache
        Folder of finished network trainings, read before training and added to after each one, so
        that an interrupted table resumes (``None``: train every replicate).

    Returns
    -------
    ReferenceTable

    Raises
    ------
    ConfigError
        No settings, a network setting that is not among them, fewer than one replicate, or too few nuclei.
    """
    check_options(nuclei_per_class=nuclei_per_class, replicates=replicates, seed=seed)
    names = [setting.name for setting in settings]
    if not settings or sorted(set(network_settings) - set(names)):
        raise ConfigError(f"network settings {network_settings}: expected names among the settings {names}")
    table = ReferenceTable(settings=list(settings), network_settings=[n for n in names if n in network_settings],
                           nuclei_per_class=nuclei_per_class, replicates=replicates, architecture=architecture,
                           max_epochs=max_epochs)
    started = time.perf_counter()
    progress = Progress("reference-observers", len(settings) + 2 * len(table.network_settings), stream=stream)
    trained_images: dict[str, tuple[str, list[ReferenceRow]]] = {}
    for setting in settings:
        dice: list[dict[str, float]] = []

        def segment(registered: RegisteredField, dice: list[dict[str, float]] = dice) -> None:
            dice.append(field_dice(registered))

        def rendered(line: str, name: str = setting.name) -> None:
            progress.note(f"{name} {line}")

        crops = collect_nuclei(setting.apply(base), nuclei_per_class=nuclei_per_class, seed=seed, canvas=canvas,
                               on_field=segment, progress=rendered)
        table.fields[setting.name] = crops.fields
        table.rows += cheap_rows(setting, crops) + dice_rows(setting, dice)
        progress.step(f"{setting.name}: {crops.fields} fields, features, CHO and classical Dice")
        if setting.name in table.network_settings:
            def trained(modality: str, seconds: float, name: str = setting.name) -> None:
                if seconds:
                    table.network_seconds.append(seconds)
                what = f"{seconds:.0f}s of training" if seconds else "same images as before, trainings reused"
                progress.step(f"{name}: {architecture} {modality} x{replicates} ({what})")

            table.rows += network_rows(setting, crops, training, architecture=architecture, replicates=replicates,
                                       max_epochs=max_epochs, log=progress.throttled_note, on_training=trained,
                                       trained=trained_images, cache=cache)
    table.seconds = time.perf_counter() - started
    return table
