"""Benchmark rows, timing and the printed table."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from stainworth.runner.stage_probe import PEAK_RSS_SNIPPET

__all__ = ["PEAK_RSS_SNIPPET", "Row", "format_table", "timed"]


@dataclass(frozen=True)
class Row:
    """One line of the benchmark table."""

    measure: str
    value: float
    reference: float | None
    unit: str
    note: str

    @property
    def ratio(self) -> str:
        """Value over reference, formatted (``—`` without a reference)."""
        return f"{self.value / self.reference:.2f}" if self.reference else "—"


def timed(function: Callable[[], object]) -> float:
    """Wall time of one call, s."""
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def format_table(rows: list[Row]) -> str:
    """A Markdown table of the rows."""
    lines = ["| measure | value | reference | ratio | note |", "| --- | ---: | ---: | ---: | --- |"]
    for row in rows:
        reference = f"{row.reference:.2f} {row.unit}" if row.reference else "—"
        lines.append(f"| {row.measure} | {row.value:.2f} {row.unit} | {reference} | {row.ratio} | {row.note} |")
    return "\n".join(lines)
