"""What every component body calls: validate the dict parameter, run the stage, record metadata.

A validation failure or any :class:`~stainworth.errors.StainworthError` ends the task with one
line on standard error (prefixed ``stainworth-error:`` so runners can quote it) and exit code 2,
without a traceback. A finished stage prints one :data:`TIMING_PREFIX` line: the seconds of its own
work and of its process so far, whose difference is what starting the process and importing cost
(read back by ``make bench``'s orchestration row).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any, Literal, NoReturn, Protocol, TypeVar

from pydantic import BaseModel

from stainworth.contracts.base import validate_model
from stainworth.contracts.manifest import OutputManifest
from stainworth.errors import StainworthError

C = TypeVar("C", bound=BaseModel)
ERROR_PREFIX = "stainworth-error:"
TIMING_PREFIX = "stainworth-timing:"
"""Start of the line ``stainworth-timing: <stage> work <seconds> process <seconds>``."""


def process_seconds() -> float:
    """Wall seconds since this process started (from ``/proc``; NaN where that cannot be read)."""
    try:
        with open("/proc/self/stat") as stat, open("/proc/uptime") as uptime:
            ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
            since_boot = float(uptime.read().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")
    return since_boot - ticks / os.sysconf("SC_CLK_TCK")


class HasMetadata(Protocol):
    """A KFP output artifact (anything with a ``metadata`` dict)."""

    metadata: dict[str, Any]


def fail(error: StainworthError) -> NoReturn:
    """End the task with the error's one line on standard error and its exit code."""
    print(f"{ERROR_PREFIX} {error}", file=sys.stderr, flush=True)
    raise SystemExit(error.exit_code) from None


def parse_config(stage: str, config_model: type[C], config: dict[str, Any]) -> C:
    """Validate a dict parameter into its model, or end the task with one line naming the field."""
    try:
        return validate_model(config_model, config, where=f"{stage} config")
    except StainworthError as error:
        fail(error)


def run_stage(
    stage: str,
    config_model: type[C],
    config: dict[str, Any],
    work: Callable[[C], OutputManifest],
    *,
    artifact: HasMetadata | None = None,
    torch_threads: Literal["task", "shared"] | None = None,
) -> OutputManifest:
    """Validate ``config`` into ``config_model``, call ``work`` and copy the manifest summary.

    Parameters
    ----------
    stage
        Stage name, used in error lines (``"simulate config: field ..."``).
    config_model
        The stage's Pydantic configuration model.
    config
        The dict parameter as KFP passed it.
    work
        The library function doing the stage's work; returns the written manifest.
    artifact
        Output artifact whose metadata receives the manifest summary (shown in the Kubeflow UI).
    torch_threads
        Size torch's thread pool first (:mod:`stainworth.runner.threads`): ``"task"``, the task's
        CPUs; ``"shared"``, its share of them as one of the loop iterations running at once.
    """
    validated = parse_config(stage, config_model, config)
    if torch_threads is not None:
        from stainworth.runner.threads import configure_torch_threads

        configure_torch_threads(parallel=torch_threads == "shared")
    started = time.perf_counter()
    try:
        manifest = work(validated)
    except StainworthError as error:
        fail(error)
    print(f"{TIMING_PREFIX} {stage} work {time.perf_counter() - started:.2f} process {process_seconds():.2f}",
          flush=True)
    if artifact is not None:
        artifact.metadata.update(manifest.summary())
    return manifest
