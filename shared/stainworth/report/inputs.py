"""The report's inputs read back and checked: ``evaluate`` outputs (one per task) and ``stain_report`` outputs.

An input folder is accepted only with its manifest (written last by its stage) naming the stage
expected; an ``evaluate`` output must be the evaluation of the task it is given for, and a
``stain_report`` output the report of the dataset it is given for. Tables a sweep did not produce
(a capacity-only run has no ``learnable.csv``; a learnable-only run writes empty embedding and
Hotelling tables) are simply absent from :attr:`Evaluation.tables`.

Every task network is trained several times (replicates). ``capacity.csv`` holds per
(architecture, modality) one *summary* row (``replicate`` empty) with the figures combined over
the replicates, then one row per replicate: :func:`summary_rows` and :func:`replicate_rows` split
them. ``units.csv`` holds one row per training (how it ended, its seed, its test metric).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from stainworth.contracts.manifest import MANIFEST_NAME, OutputManifest, T, read_manifest
from stainworth.contracts.stainer import DATASET_KINDS, DatasetKind
from stainworth.contracts.task import VERDICT_METRIC, EvaluationManifest, Task
from stainworth.errors import InputDataError
from stainworth.metrics.instances import INSTANCE_METRICS

METRIC_COLUMNS: dict[str, tuple[str, ...]] = {
    "segmentation": ("precision", "recall", "dice"),
    "classification": ("auc", "binormal_auc"),
}
"""Metric columns of each task's tables."""
OPTIONAL_METRIC_COLUMNS: dict[str, tuple[str, ...]] = {"segmentation": INSTANCE_METRICS, "classification": ()}
"""Metric columns shown where the tables have them (per-object scores need instance labels)."""
VERDICT_FILE = "verdict.json"
QUALITY_TABLE, QUALITY_PANELS, QUALITY_BY_CLASS = "quality_summary.csv", "panels.png", "quality_by_class.csv"
QUALITY_DISTANCES = "feature_distances.csv"


def required_columns(name: str, task: str) -> tuple[str, ...]:
    """Columns the report reads from the ``evaluate`` table ``name`` of ``task``."""
    metrics = METRIC_COLUMNS[task]
    columns: dict[str, tuple[str, ...]] = {
        "capacity": ("architecture", "modality", "replicate", "capacity", "replicates", "note", "run",
                     *(f"{m}{suffix}" for m in metrics for suffix in ("", "_ci_low", "_ci_high"))),
        "learnable": ("architecture", "train_size", "modality", "capacity", "n_subsets", "replicates", "note", "runs",
                      *(f"{m}{suffix}" for m in metrics for suffix in ("_mean", "_std", "_ci_low", "_ci_high"))),
        "comparisons": ("architecture", "train_size", "capacity", "modality", "reference", "metric", "value",
                        "reference_value", "difference", "ci_low", "ci_high", "df", "p_value", "p_adjusted",
                        "family", "test", "n", "replicates", "note", "runs"),
        "embeddings": ("level", "architecture", "capacity", "modality", "cosine_distance", "ci_low", "ci_high",
                       "n_control", "n_treated", "run"),
        "hotelling": ("modality", "auc", "se", "ci_low", "ci_high", "channels"),
        "embedding_distances": ("level", "architecture", "capacity", "compared", "distance", "estimate", "ci_low",
                                "ci_high", "n", "dimensions", "run"),
        "units": ("run", "architecture", "modality", "train_size", "subset", "replicate", "capacity", "train_items",
                  "epochs_run", "ended", "attempts", "degenerate", "init_seed", f"test_{VERDICT_METRIC[task]}",
                  "weights", "study_imagenet"),
    }
    return columns[name]


EVALUATION_TABLES = ("capacity", "learnable", "comparisons", "embeddings", "hotelling", "embedding_distances",
                     "units")
"""``evaluate`` tables the report reads (``<name>.csv``), when present."""


def shown_metrics(table: pd.DataFrame, task: str, suffix: str = "") -> tuple[str, ...]:
    """The task's metric columns, then its optional ones that ``table`` has (``<metric><suffix>``)."""
    return METRIC_COLUMNS[task] + tuple(metric for metric in OPTIONAL_METRIC_COLUMNS[task]
                                        if f"{metric}{suffix}" in table.columns)


@dataclass(frozen=True)
class Evaluation:
    """One ``evaluate`` output: its manifest, its non-empty tables, its image files."""

    folder: Path
    manifest: EvaluationManifest
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    feature_maps: list[Path] = field(default_factory=list)
    panels: list[Path] = field(default_factory=list)
    verdict: dict[str, Any] = field(default_factory=dict)
    """``verdict.json`` (keys ``metric``, ``sentences``, ``details``, ``family``); empty when absent."""

    @property
    def task(self) -> Task:
        """``segmentation`` or ``classification``."""
        return self.manifest.task

    def table(self, name: str) -> pd.DataFrame | None:
        """The table ``name`` (``None`` when the run did not produce it or it is empty)."""
        return self.tables.get(name)

    @property
    def family(self) -> str:
        """The multiplicity family of the verdict in words (``verdict.json``), else the families of the comparisons."""
        words = self.verdict.get("family")
        if isinstance(words, str) and words:
            return words
        comparisons = self.table("comparisons")
        if comparisons is None:
            return ""
        names = ", ".join(f"'{name}'" for name in dict.fromkeys(comparisons["family"].astype(str)))
        return f"Holm's correction within each of the families {names}"

    def csv_files(self) -> list[Path]:
        """Every CSV table the manifest lists, in listing order."""
        listed = [item for items in self.manifest.paths.values() for item in items if item.endswith(".csv")]
        return [self.folder / item for item in dict.fromkeys(listed)]


@dataclass(frozen=True)
class StainQuality:
    """One ``stain_report`` output: image quality of the stainers and baselines on one dataset."""

    folder: Path
    manifest: OutputManifest
    kind: DatasetKind
    summary: pd.DataFrame
    panels: Path | None
    by_class: pd.DataFrame | None = None
    """Classification: the summary per class of the test images (``quality_by_class.csv``)."""
    distances: pd.DataFrame | None = None
    """Fréchet and kernel distances of each method's nucleus features to the real fluorescence's."""


def checked_manifest(folder: str | Path, model: type[T], stage: str, expected: str) -> T:
    """The manifest of ``folder`` if it was written by ``stage``.

    Parameters
    ----------
    folder : str or pathlib.Path
        An output folder.
    model : type
        The manifest model to validate with.
    stage : str
        The stage that must have written it.
    expected : str
        What the folder should be, for the error line (``"an evaluate output"``).

    Raises
    ------
    InputDataError
        No such folder, no manifest, unreadable JSON, another stage's manifest, or an invalid one.
    """
    path = Path(folder)
    if not path.is_dir():
        raise InputDataError(f"{path}: no such folder; expected {expected}")
    if not (path / MANIFEST_NAME).is_file():
        raise InputDataError(f"{path}: no {MANIFEST_NAME} (a missing or unfinished output); expected {expected}")
    try:
        found = json.loads((path / MANIFEST_NAME).read_text()).get("stage")
    except (json.JSONDecodeError, AttributeError):
        found = None
    if found != stage:
        raise InputDataError(f"{path}: the output of stage {found!r}; expected {expected}")
    return read_manifest(model, path)


def read_table(path: Path, columns: tuple[str, ...] = ()) -> pd.DataFrame | None:
    """A CSV table, or ``None`` when the file is absent or holds no rows.

    Raises
    ------
    InputDataError
        An unreadable table, or one without the ``columns`` needed.
    """
    if not path.is_file():
        return None
    try:
        table = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise InputDataError(f"{path}: not a readable CSV table ({type(error).__name__})") from None
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise InputDataError(f"{path}: no column {', '.join(missing)}; expected the columns "
                             f"{', '.join(columns)}")
    return None if table.empty else table


def read_evaluation(folder: str | Path, task: str | None = None) -> Evaluation:
    """Read an ``evaluate`` output (of ``task`` when given).

    Raises
    ------
    InputDataError
        Not an evaluate output, the evaluation of another task, or an unreadable table.
    """
    path = Path(folder)
    expected = f"the evaluate output of the {task} task" if task else "an evaluate output"
    manifest = checked_manifest(path, EvaluationManifest, "evaluate", expected)
    if task is not None and manifest.task != task:
        raise InputDataError(f"{path}: the evaluation of the {manifest.task} task; expected {expected}")
    tables = {}
    for name in EVALUATION_TABLES:
        table = read_table(path / f"{name}.csv", required_columns(name, manifest.task))
        if table is not None:
            tables[name] = table
    images = {role: sorted(path / item for item in manifest.paths.get(role, []) if item.endswith(".png"))
              for role in ("feature_maps", "panels")}
    return Evaluation(path, manifest, tables, images["feature_maps"], images["panels"], read_verdict(path))


def read_verdict(folder: Path) -> dict[str, Any]:
    """``verdict.json`` of an ``evaluate`` output (empty when absent).

    Raises
    ------
    InputDataError
        A file that is not a JSON object.
    """
    path = folder / VERDICT_FILE
    if not path.is_file():
        return {}
    try:
        verdict = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputDataError(f"{path}: not readable JSON ({type(error).__name__}); expected the verdict of "
                             "evaluate") from None
    if not isinstance(verdict, dict):
        raise InputDataError(f"{path}: found a JSON {type(verdict).__name__}; expected an object with the keys "
                             "metric, sentences, details, family")
    return verdict


def summary_rows(capacity: pd.DataFrame) -> pd.DataFrame:
    """The summary rows of ``capacity.csv`` (``replicate`` empty): the figures combined over replicates.

    A table without a ``replicate`` column (one training per network) is returned whole.
    """
    if "replicate" not in capacity.columns:
        return capacity
    return capacity[capacity["replicate"].isna()]


def replicate_rows(capacity: pd.DataFrame) -> pd.DataFrame:
    """The rows of single trainings of ``capacity.csv`` (``replicate`` 0, 1, ...); none without the column."""
    if "replicate" not in capacity.columns:
        return capacity.iloc[:0]
    return capacity[capacity["replicate"].notna()]


def stain_report_kind(manifest: OutputManifest, folder: Path) -> DatasetKind:
    """The dataset a ``stain_report`` output scored (the dataset input named in its manifest)."""
    kinds = [kind for kind in DATASET_KINDS if kind in manifest.input_hashes]
    if len(kinds) != 1:
        raise InputDataError(f"{folder}: its manifest names the datasets {kinds}; expected exactly one of "
                             f"{', '.join(DATASET_KINDS)}")
    return kinds[0]


def read_stain_quality(folder: str | Path, kind: str | None = None) -> StainQuality:
    """Read a ``stain_report`` output (of dataset ``kind`` when given).

    Raises
    ------
    InputDataError
        Not a stain_report output, the report of another dataset, or no quality table.
    """
    path = Path(folder)
    expected = f"the stain_report output of the {kind} dataset" if kind else "a stain_report output"
    manifest = checked_manifest(path, OutputManifest, "stain_report", expected)
    found = stain_report_kind(manifest, path)
    if kind is not None and found != kind:
        raise InputDataError(f"{path}: the stain_report of the {found} dataset; expected {expected}")
    summary = read_table(path / QUALITY_TABLE, ("method", "metric", "mean", "std", "median", "n"))
    if summary is None:
        raise InputDataError(f"{path}: no rows in {QUALITY_TABLE}; expected the image-quality summary")
    panels = path / QUALITY_PANELS
    by_class = read_table(path / QUALITY_BY_CLASS, ("method", "class", "metric", "mean", "std", "n")) \
        if (path / QUALITY_BY_CLASS).is_file() else None
    distances = read_table(path / QUALITY_DISTANCES, ("method", "distance", "estimate", "ci_low", "ci_high", "n")) \
        if (path / QUALITY_DISTANCES).is_file() else None
    return StainQuality(path, manifest, found, summary, panels if panels.is_file() else None, by_class, distances)


def check_names(names: Iterable[str], allowed: tuple[str, ...], what: str) -> None:
    """Raise :class:`InputDataError` when one of ``names`` (keys of the report's inputs) is not ``allowed``."""
    unknown = [str(name) for name in names if name not in allowed]
    if unknown:
        raise InputDataError(f"{what} {unknown}: expected names among {', '.join(allowed)}")
