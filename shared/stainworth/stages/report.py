"""The ``report`` stage: the study report of one run from its ``evaluate`` and ``stain_report`` outputs.

Writes ``report.html`` (one self-contained page: verdict, deviations from the study, image
quality, the study's figures and every table with its uncertainty and unit, configuration and
provenance), ``summary.md`` (verdict and headline tables for KFP's Markdown artifact),
``figures/<task>-<figure>.png``, ``tables/<task>/*.csv`` (copies of every evaluate table, so each
number in the report sits beside it at full precision), ``tables/quality/<dataset>.csv`` and,
last, ``manifest.json`` (:class:`~stainworth.contracts.report.ReportManifest`).

Every input is checked before anything is written (its manifest must exist and name the
expected stage, task or dataset); the output is built in a scratch folder beside the target and
moved into place whole, so a failed report leaves no partial folder and an earlier one untouched.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from stainworth.contracts.base import config_hash
from stainworth.contracts.manifest import write_manifest
from stainworth.contracts.report import HTML_FILE, SUMMARY_FILE, ReportConfig, ReportManifest
from stainworth.contracts.stainer import DATASET_KINDS
from stainworth.contracts.task import TASKS, VERDICT_METRIC
from stainworth.errors import InputDataError
from stainworth.report.deviations import deviations
from stainworth.report.document import FigureFile, build_document, task_figures
from stainworth.report.html import render
from stainworth.report.inputs import (
    QUALITY_TABLE,
    Evaluation,
    StainQuality,
    check_names,
    read_evaluation,
    read_stain_quality,
)
from stainworth.report.provenance import data_source, profile_name
from stainworth.report.summary import TaskSummary, summary_markdown
from stainworth.report.tables import headline_table, quality_display
from stainworth.store.local_files import move_into_place


def read_inputs(evaluation_dirs: Mapping[str, str | Path], stain_report_dirs: Mapping[str, str | Path]
                ) -> tuple[list[Evaluation], list[StainQuality]]:
    """Read and check every input, evaluations in task order and image-quality reports in dataset order.

    Raises
    ------
    InputDataError
        No input at all, an unknown task or dataset name, or an input that fails its check.
    """
    check_names(evaluation_dirs, TASKS, "evaluations of")
    check_names(stain_report_dirs, DATASET_KINDS, "stain reports of")
    if not evaluation_dirs and not stain_report_dirs:
        raise InputDataError("report: no input given; expected an evaluate output of at least one task "
                             "or a stain_report output")
    evaluations = [read_evaluation(evaluation_dirs[task], task) for task in TASKS if task in evaluation_dirs]
    qualities = [read_stain_quality(stain_report_dirs[kind], kind) for kind in DATASET_KINDS
                 if kind in stain_report_dirs]
    return evaluations, qualities


def _copy_tables(evaluations: Sequence[Evaluation], qualities: Sequence[StainQuality], root: Path) -> list[str]:
    copied = []
    for evaluation in evaluations:
        for source in evaluation.csv_files():
            target = root / "tables" / evaluation.task / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            copied.append(target.relative_to(root).as_posix())
    for quality in qualities:
        target = root / "tables" / "quality" / f"{quality.kind}.csv"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(quality.folder / QUALITY_TABLE, target)
        copied.append(target.relative_to(root).as_posix())
    return copied


def _save_figures(drawn: Mapping[str, Sequence[FigureFile]], root: Path) -> list[str]:
    (root / "figures").mkdir(exist_ok=True)
    saved = []
    for figure in (figure for figures in drawn.values() for figure in figures):
        (root / "figures" / f"{figure.name}.png").write_bytes(figure.png)
        saved.append(f"figures/{figure.name}.png")
    return saved


def _summary(config: ReportConfig, evaluations: Sequence[Evaluation], qualities: Sequence[StainQuality],
             sentences: Sequence[str], generated: str) -> str:
    tasks = []
    for evaluation in evaluations:
        metric = VERDICT_METRIC[evaluation.task]
        capacity = evaluation.table("capacity")
        tasks.append(TaskSummary(evaluation.task, list(evaluation.manifest.verdict), metric,
                                 None if capacity is None else headline_table(capacity, metric)))
    return summary_markdown(profile=profile_name(config), data_source=data_source(config), generated=generated,
                            tasks=tasks, deviations=sentences,
                            quality={q.kind: quality_display(q.summary) for q in qualities}, report_file=HTML_FILE)


def _manifest(config: ReportConfig, evaluations: Sequence[Evaluation], qualities: Sequence[StainQuality],
              paths: dict[str, list[str]], sentences: Sequence[str]) -> ReportManifest:
    hashes = {f"evaluate.{e.task}": e.manifest.content_hash for e in evaluations}
    hashes |= {f"stain_report.{q.kind}": q.manifest.content_hash for q in qualities}
    metrics = {f"{e.task}.{name}": value for e in evaluations for name, value in e.manifest.metrics.items()}
    return ReportManifest(
        config=config.model_dump(mode="json"), config_hash=config_hash(config), input_hashes=hashes,
        counts={"tasks": len(evaluations), "datasets": len(qualities), "figures": len(paths["figures"]),
                "tables": len(paths["tables"]), "deviations": len(sentences)},
        paths=paths, metrics=metrics, tasks=[e.task for e in evaluations],
        datasets=[q.kind for q in qualities],
        data_source=data_source(config), verdict={e.task: list(e.manifest.verdict) for e in evaluations})


def report_stage(evaluation_dirs: Mapping[str, str | Path], stain_report_dirs: Mapping[str, str | Path] | None,
                 output_dir: str | Path, *, config: ReportConfig | None = None,
                 generated: datetime | None = None) -> ReportManifest:
    """Write the report of one run; manifest last, the folder moved into place whole.

    Parameters
    ----------
    evaluation_dirs
        ``evaluate`` outputs by task (``segmentation``, ``classification``; one or both).
    stain_report_dirs
        ``stain_report`` outputs by dataset (``segmentation``, ``classification``; may be empty).
    output_dir
        The report folder (replaced when it exists).
    config
        Profile name, data source and the settings to show (default: none recorded).
    generated
        Time shown as the report's date (default: now, UTC).

    Returns
    -------
    ReportManifest
        The written manifest.

    Raises
    ------
    InputDataError
        An input that is missing, unfinished, of another stage, task or dataset, or unreadable.
    """
    config = config or ReportConfig()
    evaluations, qualities = read_inputs(evaluation_dirs, stain_report_dirs or {})
    when = (generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    sentences = deviations(evaluations, data_source(config), qualities)
    drawn: dict[str, list[FigureFile]] = {evaluation.task: task_figures(evaluation) for evaluation in evaluations}
    page = render(build_document(config, evaluations, qualities, drawn, sentences, when))
    target = Path(output_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.report-", dir=target.parent))
    try:
        (scratch / HTML_FILE).write_text(page, encoding="utf-8")
        (scratch / SUMMARY_FILE).write_text(_summary(config, evaluations, qualities, sentences, when),
                                            encoding="utf-8")
        paths = {"report": [HTML_FILE], "summary": [SUMMARY_FILE], "figures": _save_figures(drawn, scratch),
                 "tables": _copy_tables(evaluations, qualities, scratch)}
        manifest = write_manifest(_manifest(config, evaluations, qualities, paths, sentences), scratch)
        move_into_place(scratch, target, replace=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return manifest
