"""The blocks of one task's section: every table with its caption and source, and how the trainings ended.

Tables, in order: the capacity sweep combined over replicates (its single trainings folded below
it), the learnable sweep (mean ± SD over all trainings and the combined interval), the combined
paired comparisons (difference, interval, df, p, Holm-adjusted p, family), the embedding
distances, the Hotelling observer and one row per training. Then a subsection on how the
trainings ended (shares overall and per network) and the seeds they started from.
"""

from __future__ import annotations

import pandas as pd

from stainworth.contracts.report import ReportConfig
from stainworth.report import tables
from stainworth.report.deviations import tasks_config
from stainworth.report.endings import (
    ending_sentence,
    ending_shares,
    profile_seed,
    seed_sentence,
    seed_table,
    shares_display,
)
from stainworth.report.html import Block, Details, Section, Table
from stainworth.report.inputs import Evaluation


def _table(evaluation: Evaluation, name: str, caption: str, frame: pd.DataFrame) -> Table:
    return Table(caption, frame, f"tables/{evaluation.task}/{name}.csv")


def _capacity_blocks(evaluation: Evaluation, capacity: pd.DataFrame) -> list[Block]:
    task = evaluation.task
    single = tables.capacity_replicates_display(capacity, task)
    return [
        _table(evaluation, "capacity", "Capacity sweep: every network and modality on the whole training split, "
               f"{tables.replicates_phrase(capacity)}; 95% CI combining test-set and between-replicate variance",
               tables.capacity_display(capacity, task)),
        Details(f"The {len(single)} single trainings of the capacity sweep, each with its test-set 95% CI",
                [_table(evaluation, "capacity", "Capacity sweep, one row per training (replicate)", single)]),
    ]


def _comparisons_block(evaluation: Evaluation, comparisons: pd.DataFrame) -> Table:
    listed = [item for items in evaluation.manifest.paths.values() for item in items]
    single = ("; one row per paired training in comparisons_replicates.csv"
              if "comparisons_replicates.csv" in listed else "")
    return _table(evaluation, "comparisons", "Paired comparisons with label-free images on the same test items "
                  "(modality minus label-free), all trainings combined; p Holm-adjusted within each family (one "
                  f"modality, one sweep axis, one metric){single}", tables.comparisons_display(comparisons))


def table_blocks(evaluation: Evaluation) -> list[Block]:
    """Every table of the evaluation with its uncertainty and units, in the order shown."""
    task = evaluation.task
    blocks: list[Block] = []
    capacity, learnable = evaluation.table("capacity"), evaluation.table("learnable")
    if capacity is not None:
        blocks += _capacity_blocks(evaluation, capacity)
    if learnable is not None:
        blocks.append(_table(evaluation, "learnable", "Learnable-capacity sweep: mean ± SD over all trainings and "
                             f"the 95% CI {tables.learnable_phrase(learnable)} (test-set and between-training "
                             "variance)", tables.learnable_display(learnable, task)))
    comparisons = evaluation.table("comparisons")
    if comparisons is not None:
        blocks.append(_comparisons_block(evaluation, comparisons))
    views = [("embeddings", "Cosine distance between the control and treated class embeddings",
              tables.embeddings_display),
             ("hotelling", "Channelized Hotelling observer (a linear reference that needs no task network)",
              tables.hotelling_display),
             ("embedding_distances", "Distance of each stain, and of the label-free images mapped by percentiles "
              "(the identity baseline), to the real fluorescence in the penultimate-layer embeddings of the network "
              "trained on the real fluorescence (principal components of its embeddings; 95% bootstrap intervals "
              "over nuclei): a stain no closer than the identity baseline gives that network nothing new",
              tables.embedding_distances_display)]
    for name, caption, display in views:
        table = evaluation.table(name)
        if table is not None:
            blocks.append(_table(evaluation, name, caption, display(table)))
    units = evaluation.table("units")
    if units is not None:
        blocks.append(_table(evaluation, "units", "How every training went, one row per training",
                             tables.units_display(units, task)))
    return blocks


def endings_section(evaluation: Evaluation, config: ReportConfig) -> Section | None:
    """How the trainings ended (shares overall and per network) and their seeds; None without a units table."""
    units = evaluation.table("units")
    if units is None:
        return None
    task = evaluation.task
    shares = ending_shares(units)
    recorded = tasks_config(evaluation).sweep(task).training.seed
    source = f"tables/{task}/units.csv"
    return Section("How training ended", paragraphs=[
        ending_sentence(task, shares), seed_sentence(task, profile_seed(config.settings, task), recorded)], blocks=[
        Table("How the trainings ended, overall and per network (early stopping on the validation loss, the "
              "epoch cap, or a retraining with a fresh seed after a degenerate attempt)", shares_display(shares),
              source),
        Table("Initialisation seeds of the trainings (init_seed of the units table)", seed_table(units), source)])
