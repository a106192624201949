"""The report in brief as Markdown (KFP's Markdown artifact): the verdict sentences and the headline tables.

Per task: the verdict sentences of ``evaluate`` (each names the multiplicity family its
Holm-adjusted p-values belong to) and a table of the verdict's metric (Dice for segmentation, the
empirical AUC for classification) combined over the replicates with its 95% interval for every
network of the capacity sweep and every modality. Text is escaped so that no sentence or cell can turn into
Markdown table syntax or HTML.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from stainworth.report.tables import METRIC_TITLES


@dataclass(frozen=True)
class TaskSummary:
    """What the summary shows of one task."""

    task: str
    verdict: list[str]
    metric: str
    headline: pd.DataFrame | None
    """:func:`stainworth.report.tables.headline_table` of the capacity sweep (``None`` without one)."""


def escape(value: object) -> str:
    """``value`` as Markdown text: ``|``, ``<``, ``>`` and backslashes escaped, on one line."""
    shown = " ".join(str(value).split())
    return shown.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def markdown_table(frame: pd.DataFrame) -> str:
    """``frame`` as a GitHub-flavoured Markdown table (every cell escaped)."""
    head = "| " + " | ".join(escape(column) for column in frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    rows = ["| " + " | ".join(escape(value) for value in row) + " |"
            for row in frame.itertuples(index=False, name=None)]
    return "\n".join([head, rule, *rows])


def summary_markdown(*, profile: str, data_source: str, generated: str, tasks: Sequence[TaskSummary],
                     deviations: Sequence[str], quality: Mapping[str, pd.DataFrame] | None = None,
                     report_file: str = "report.html") -> str:
    """The Markdown summary of a report.

    Parameters
    ----------
    profile, data_source, generated
        Header facts: the profile name, where the images came from, when the report was made.
    tasks
        One :class:`TaskSummary` per task, in the order shown.
    deviations
        The report's deviations from the study (counted here, listed in the HTML report).
    quality
        Image-quality display tables by dataset (optional; shown last).
    report_file
        Name of the HTML report the summary points to.

    Returns
    -------
    str
        Markdown text ending with a newline.
    """
    lines = [f"# stainworth report: profile {escape(profile)}", "",
             f"Data: {escape(data_source)}. Generated {escape(generated)}.", ""]
    for task in tasks:
        lines += [f"## {escape(task.task)}", ""]
        lines += [f"- {escape(sentence)}" for sentence in task.verdict] or ["- No verdict."]
        if task.headline is not None and not task.headline.empty:
            combined = task.headline.attrs.get("combined")
            lines += ["", f"{METRIC_TITLES.get(task.metric, task.metric)} by network and modality "
                      f"(capacity sweep, {f'{combined}, ' if combined else ''}95% CI):", "",
                      markdown_table(task.headline)]
        lines.append("")
    for dataset, table in (quality or {}).items():
        lines += [f"## Image quality, {escape(dataset)} dataset (mean ± SD over test images)", "",
                  markdown_table(table), ""]
    count = len(deviations)
    lines.append(f"{count} deviation{'' if count == 1 else 's'} from the study; details, figures and "
                 f"tables in {escape(report_file)}.")
    return "\n".join(lines) + "\n"
