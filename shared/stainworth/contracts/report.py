"""Configuration and manifest of the ``report`` stage: the study report of one run."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator

from stainworth.contracts.base import StrictModel
from stainworth.contracts.manifest import OutputManifest
from stainworth.contracts.stainer import DatasetKind
from stainworth.contracts.task import Task

DataSource = Literal["phantom", "real"]
HTML_FILE, SUMMARY_FILE = "report.html", "summary.md"
"""Files of a ``report`` output beside its figures, tables and manifest."""
REDACTED = "(redacted)"
SECRET_KEY = re.compile(r"secret_key|access_key|password|token|credential", re.IGNORECASE)
"""Keys of ``settings`` whose values are never shown or recorded."""


def redact(value: Any) -> Any:
    """``value`` with the value of every key that names a secret replaced by ``(redacted)``."""
    if isinstance(value, dict):
        return {key: REDACTED if SECRET_KEY.search(str(key)) else redact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


class ReportConfig(StrictModel):
    """What the report says about the run beyond what its inputs record."""

    profile: str = ""
    """Profile name shown in the title (empty: ``settings["name"]`` when present)."""
    data_source: DataSource | None = None
    """``phantom`` or ``real``; ``None``: read from ``settings["prepare"]["source"]`` when present."""
    settings: dict[str, Any] = Field(default_factory=dict)
    """The resolved configuration to show (e.g. the profile without its cluster section)."""

    @field_validator("settings")
    @classmethod
    def _no_secrets(cls, value: dict[str, Any]) -> dict[str, Any]:
        return redact(value)


class ReportManifest(OutputManifest):
    """The output of ``report``: ``report.html``, ``summary.md``, ``figures/`` and ``tables/``."""

    stage: str = "report"
    tasks: list[Task] = Field(default_factory=list)
    """Tasks whose evaluations the report holds."""
    datasets: list[DatasetKind] = Field(default_factory=list)
    """Datasets whose image-quality reports the report holds."""
    data_source: str
    """Where the images came from, as the report states it."""
    verdict: dict[str, list[str]] = Field(default_factory=dict)
    """The verdict sentences by task."""
