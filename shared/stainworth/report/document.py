"""What the report shows, in which order: the study's figures and tables per task, arranged as one document.

Order: the verdict (the sentences of ``evaluate`` per task, the multiplicity family they are
Holm-adjusted in, and the verdict metric of every capacity combined over replicates); the
deviations from the study; image quality of the virtual stains per dataset with their panels
(the study's Figs. 2 and 8); per task the figures of :mod:`stainworth.report.figures` (lines
through the figures combined over replicates, error bars their 95% intervals, points the single
trainings) and every table with its uncertainty and unit (the capacity sweep's single trainings
folded below it), how the trainings ended (shares overall and per network) with their seeds,
then the segmentation feature maps (Fig. 7) and predicted-mask panels (Figs. 5 and 6); the
configuration with the profile's seeds; the provenance of every input.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from stainworth.contracts.report import ReportConfig
from stainworth.contracts.task import LADDERS, VERDICT_METRIC, architecture_slug, modality_rank
from stainworth.report import figures, tables
from stainworth.report.blocks import endings_section, table_blocks
from stainworth.report.html import Block, Details, Document, Image, ImageGrid, Preformatted, Section, Table
from stainworth.report.inputs import Evaluation, StainQuality
from stainworth.report.labels import STAINER_NAMES, modality_name
from stainworth.report.provenance import (
    configuration_text,
    data_source,
    input_hashes,
    profile_name,
    provenance_table,
    seeds_sentence,
)

QUALITY_FIGURE = {"segmentation": "Fig. 2", "classification": "Fig. 8"}
TASK_TITLES = {"segmentation": "Segmentation of nuclei", "classification": "Classification of treated nuclei"}


@dataclass(frozen=True)
class FigureFile:
    """A drawn figure: its file stem under ``figures/``, caption and PNG bytes."""

    name: str
    caption: str
    png: bytes


BARS = "error bars: 95% interval combining test-set and between-replicate variance"
POINTS = "points: single trainings"


def _capacity_caption(what: str, figure: str) -> Callable[[pd.DataFrame], str]:
    return lambda table: (f"{what} against the networks' trainable parameters, each line through the figures "
                          f"{tables.replicates_phrase(table)}; {BARS}; {POINTS} (the replicates) (study {figure}).")


def _learnable_caption(what: str, figure: str, points: str) -> Callable[[pd.DataFrame], str]:
    return lambda table: (f"{what} against the training size, each line through the figures "
                          f"{tables.learnable_phrase(table)}; error bars: 95% interval combining test-set and "
                          f"between-training variance (training subsets as clusters); {POINTS}{points} "
                          f"(study {figure}).")


FigureSpec = tuple[str, str, Callable[[pd.DataFrame, pd.DataFrame | None], Figure], Callable[[pd.DataFrame], str]]
"""(table, file suffix, drawing function of the table and ``units.csv``, caption of the table)."""
FIGURE_SPECS: dict[str, list[FigureSpec]] = {
    "segmentation": [
        ("capacity", "capacity", lambda table, _: figures.segmentation_capacity_figure(table),
         _capacity_caption("Precision, recall and Dice", "Fig. 3")),
        ("learnable", "learnable", figures.segmentation_learnable_figure,
         _learnable_caption("Precision, recall and Dice", "Fig. 4",
                            " (Dice only: the units table records each training's test Dice)")),
    ],
    "classification": [
        ("capacity", "capacity", lambda table, _: figures.classification_capacity_figure(table),
         _capacity_caption("Test AUC (empirical; DeLong covariance), one panel per virtual stain beside label-free "
                           "and fluorescence,", "Fig. 9")),
        ("learnable", "learnable", lambda table, units: figures.classification_learnable_figure(table, units),
         _learnable_caption("Test AUC (empirical), one panel per virtual stain,", "Fig. 10", "")),
        ("embeddings", "embeddings", lambda table, _: figures.embedding_distance_figure(table),
         lambda _: "Cosine distance between the control and treated class embeddings of the penultimate layer at "
                   "low, medium and high capacity (one training of each network, named in the table); error bars: "
                   "95% bootstrap interval over test images (study Fig. 11)."),
    ],
}


def task_figures(evaluation: Evaluation) -> list[FigureFile]:
    """The figures of one evaluation (those whose table the run produced), drawn as PNG."""
    drawn = []
    for table_name, suffix, draw, caption in FIGURE_SPECS[evaluation.task]:
        table = evaluation.table(table_name)
        if table is not None:
            figure = draw(table, evaluation.table("units"))
            drawn.append(FigureFile(f"{evaluation.task}-{suffix}", caption(table), figures.png_bytes(figure)))
    return drawn


def _families(evaluation: Evaluation) -> list[str]:
    """The multiplicity family in words, and the families of the comparisons with their sizes."""
    paragraphs = []
    if evaluation.family:
        paragraphs.append(f"Multiplicity: {evaluation.family}.")
    comparisons = evaluation.table("comparisons")
    if comparisons is not None:
        sizes = comparisons.groupby("family", sort=False).size()
        paragraphs.append("Families of this evaluation: " + "; ".join(
            f"'{name}' ({size} comparison{'s' * (size != 1)})" for name, size in sizes.items()) + ".")
    return paragraphs


def _verdict(evaluations: Sequence[Evaluation]) -> Section:
    subsections = []
    for evaluation in evaluations:
        metric = VERDICT_METRIC[evaluation.task]
        capacity = evaluation.table("capacity")
        blocks: list[Block] = []
        if capacity is not None:
            blocks.append(Table(f"{tables.METRIC_TITLES[metric]} [95% CI] of every network of the capacity sweep, "
                                f"{tables.replicates_phrase(capacity)}", tables.headline_table(capacity, metric),
                                f"tables/{evaluation.task}/capacity.csv"))
        subsections.append(Section(evaluation.task, paragraphs=_families(evaluation),
                                   bullets=list(evaluation.manifest.verdict), blocks=blocks))
    return Section("Verdict", paragraphs=["Where each virtual stain scores significantly higher or lower than "
                                          "label-free images as capacity and training size grow, decided on the "
                                          "paired comparisons combined over all trainings with Holm-adjusted "
                                          "p-values (from the evaluate stage)."],
                   subsections=subsections)


def _deviations(sentences: Sequence[str]) -> Section:
    if not sentences:
        return Section("Deviations from the study", paragraphs=["None found in the recorded settings."])
    return Section("Deviations from the study", bullets=list(sentences))


BASELINE_TITLES = {"identity": "identity", "linear": "global linear"}
COMPARED_METRICS = {"ssim": "SSIM", "pearson": "Pearson correlation",
                    "pearson_nucleus": "Pearson correlation in nuclei"}


def _quality_notes(quality: StainQuality) -> list[str]:
    """One sentence per stainer: where it beats both baselines, and in words where it does not."""
    metrics, notes = quality.manifest.metrics, []
    names = [key.removesuffix(".beats_baselines") for key in metrics if key.endswith(".beats_baselines")]
    for name in sorted(names, key=lambda n: (n not in STAINER_NAMES, n)):
        title = STAINER_NAMES.get(name, name)
        flag = metrics.get(f"{name}.beats_baselines")
        if flag is None:
            continue
        above, short = [], []
        for metric, label in COMPARED_METRICS.items():
            results = {b: (metrics[k], metrics[f"{k}.ci_low"], metrics[f"{k}.ci_high"]) for b in BASELINE_TITLES
                       if (k := f"{name}.minus_{b}.{metric}") in metrics}
            if not results:
                continue
            failing = {b: r for b, r in results.items() if r[1] <= 0}
            if not failing:
                above.append(label)
            for baseline, (estimate, low, high) in failing.items():
                where = "below" if high < 0 else "not distinguishable from"
                short.append(f"{label} {where} the {BASELINE_TITLES[baseline]} baseline "
                             f"({estimate:+.3f} [{low:+.3f}, {high:+.3f}])")
        if not above and not short:  # an older report: only the overall flag
            verb = "beats" if flag >= 0.5 else "does not beat"
            notes.append(f"{title} {verb} both baselines (identity, global linear).")
            continue
        sentence = f"{title} beats both baselines (identity, global linear)"
        sentence += f" on {', '.join(above)}" if above else " on no compared metric"
        if short:
            sentence += "; it does not beat them on " + "; ".join(short)
        notes.append(sentence + " (paired differences over test images with 95% intervals; one training "
                     "of each stainer, so its training variance is not included).")
    return notes


def _quality(qualities: Sequence[StainQuality]) -> Section:
    subsections = []
    for quality in qualities:
        blocks: list[Block] = [Table(f"{quality.kind}: image quality against the real fluorescence on the test split "
                              "(mean ± SD over test images)", tables.quality_display(quality.summary),
                              f"tables/quality/{quality.kind}.csv")]
        if quality.distances is not None:
            blocks.append(Table(f"{quality.kind}: distance of the per-nucleus intensity and texture features to "
                                "the real fluorescence's (Fréchet and kernel distances on features standardised by "
                                "the real nuclei; 95% bootstrap intervals over nuclei; 0 = the same distribution)",
                                tables.feature_distance_display(quality.distances),
                                f"tables/quality/{quality.kind}_feature_distances.csv"))
        if quality.by_class is not None:
            blocks.append(Table(f"{quality.kind}: image quality by class of the test images (mean ± SD): a stainer "
                                "good on average can fail on the class that carries the signal",
                                tables.quality_by_class_display(quality.by_class),
                                f"tables/quality/{quality.kind}_by_class.csv"))
        if quality.panels is not None:
            blocks.append(Image(f"{quality.kind}: label-free input, virtual stains and real fluorescence "
                                f"(study {QUALITY_FIGURE.get(quality.kind, '')})", quality.panels.read_bytes()))
        subsections.append(Section(f"{quality.kind} dataset", bullets=_quality_notes(quality), blocks=blocks))
    return Section("Image quality of the virtual stains", subsections=subsections)


def _architecture_order(evaluation: Evaluation, names: set[str]) -> list[str]:
    capacity = evaluation.table("capacity")
    if capacity is not None:
        ordered = list(figures.architecture_capacities(capacity).index.astype(str))
    else:
        ordered = list(LADDERS[evaluation.manifest.task])
    return [name for name in ordered if name in names] + sorted(names - set(ordered))


def feature_map_grid(evaluation: Evaluation) -> ImageGrid | None:
    """The mean decoder activation maps as modalities × networks (study Fig. 7), ``None`` without any."""
    cells: dict[tuple[str, str], bytes] = {}
    architectures: set[str] = set()
    modalities: set[str] = set()
    capacity = evaluation.table("capacity")
    names = {} if capacity is None else {architecture_slug(str(name)): str(name)
                                          for name in capacity["architecture"].unique()}
    for path in evaluation.feature_maps:
        slug, _, modality = path.stem.partition("-")  # <architecture slug>-<modality>
        architecture = names.get(slug, slug)
        architectures.add(architecture)
        modalities.add(modality)
        cells[(modality_name(modality), architecture)] = path.read_bytes()
    if not cells:
        return None
    rows = [modality_name(m) for m in sorted(modalities, key=modality_rank)]
    return ImageGrid("Mean activation of the penultimate decoder layer over test images, rows modalities, "
                     "columns networks of increasing capacity (study Fig. 7)", rows,
                     _architecture_order(evaluation, architectures), cells)


def _mask_panels(evaluation: Evaluation) -> list[Image]:
    """Predicted-mask panels, capacity sweep first, each sweep in modality order."""
    def order(path: Path) -> tuple[int, tuple[int, str], str]:
        sweep, _, modality = path.stem.partition("-")
        return (0 if sweep == "capacity" else 1, modality_rank(modality), path.stem)

    shown = []
    for path in sorted(evaluation.panels, key=order):
        sweep, _, modality = path.stem.partition("-")
        what = ("across capacities (study Fig. 5)" if sweep == "capacity"
                else "across training sizes, subset 0 (study Fig. 6)")
        shown.append(Image(f"{modality_name(modality)}: test images, true masks and predicted masks {what}",
                           path.read_bytes()))
    return shown


SWEEP_TABLES = ("capacity", "learnable")


def _task(evaluation: Evaluation, drawn: Sequence[FigureFile], config: ReportConfig) -> Section:
    task = evaluation.task
    blocks: list[Block] = [Image(figure.caption, figure.png) for figure in drawn]
    blocks += table_blocks(evaluation)
    subsections = [section for section in [endings_section(evaluation, config)] if section is not None]
    grid = feature_map_grid(evaluation)
    if grid is not None:
        subsections.append(Section("Feature maps", blocks=[grid]))
    panels = _mask_panels(evaluation)
    if panels:
        subsections.append(Section("Predicted masks", blocks=list(panels)))
    missing = [name for name in SWEEP_TABLES if evaluation.table(name) is None]
    notes = [f"This run has no {name} sweep for {task}." for name in missing]
    return Section(TASK_TITLES.get(task, task), paragraphs=notes, blocks=blocks, subsections=subsections)


def _provenance(evaluations: Sequence[Evaluation], qualities: Sequence[StainQuality]) -> Section:
    hashes = input_hashes(evaluations, qualities)
    return Section("Provenance", blocks=[
        Table("Inputs of this report", provenance_table(evaluations, qualities)),
        Details(f"Content hashes of the {len(hashes)} inputs they read", [Table("Inputs read", hashes)]),
    ])


def build_document(config: ReportConfig, evaluations: Sequence[Evaluation], qualities: Sequence[StainQuality],
                   drawn: Mapping[str, Sequence[FigureFile]], deviations: Sequence[str], generated: str) -> Document:
    """The report as a :class:`~stainworth.report.html.Document`.

    Parameters
    ----------
    config
        The report configuration (profile, data source, settings shown).
    evaluations, qualities
        The checked inputs, in the order shown.
    drawn
        The figures of each task (:func:`task_figures`), by task.
    deviations
        Sentences of :func:`stainworth.report.deviations.deviations`.
    generated
        When the report was made, as shown.
    """
    facts = [("profile", profile_name(config)), ("data", data_source(config)), ("generated", generated),
             ("tasks", ", ".join(e.task for e in evaluations) or "none"),
             ("image-quality reports", ", ".join(q.kind for q in qualities) or "none")]
    sections = [_verdict(evaluations), _deviations(deviations)]
    if qualities:
        sections.append(_quality(qualities))
    sections += [_task(evaluation, drawn.get(evaluation.task, []), config) for evaluation in evaluations]
    sections.append(Section("Configuration", paragraphs=[seeds_sentence(config)], blocks=[Preformatted(
        "The configuration given to the report, then the configurations the inputs recorded (what ran).",
        configuration_text(config, evaluations, qualities))]))
    sections.append(_provenance(evaluations, qualities))
    return Document(f"stainworth report: profile {profile_name(config)}", facts, sections)

