"""What a local run shows on the console: task k of n with the run's ETA, the stages' own progress, errors.

kfp.local prints every task's full executor input and outputs as JSON, warnings about settings
that only a cluster honours, and its own executor chatter. All of it stays in ``run.log``; the
console gets one line when a task starts and one when it ends (its duration unless iterations of
the same loop task overlap, the run's elapsed time and a rough ETA from the mean task time so
far), the progress lines the stages print, and any line carrying a stage's error. A retried task
keeps its number (the failed attempt is shown, then the retry); a task served from kfp.local's
cache is shown once, as cached.

kfp.local 2.17 runs loop iterations in threads that swap ``builtins.print`` for an indenting one
without a lock: when two iterations end together, one "finished" line can go missing and every
later line keeps extra indentation. A task's end therefore shows the number it started with (not
a count of ends), and stage lines are recognised at any multiple of four spaces.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

from stainworth.contracts.profile import Profile
from stainworth.pipelines.parameters import LOCAL_SLOTS
from stainworth.progress import format_seconds
from stainworth.runner.stage_entry import ERROR_PREFIX, TIMING_PREFIX

PLAN_PREFIX = "stainworth-plan:"
"""The child's first line: ``stainworth-plan: <n> tasks``."""
_STARTED = re.compile(r"Executing task '(?P<task>[^']+)'")
_FINISHED = re.compile(r"Task '(?P<task>[^']+)' finished with status (?P<status>\w+)")
_RETRYING = re.compile(r"Task '?(?P<task>[^' ]+)'? failed \(attempt (?P<attempt>\d+)/(?P<attempts>\d+)\)")
_CACHE_HIT = re.compile(r"Task '?(?P<task>[^' ]+)'? cache hit")
_PIPELINE_DONE = re.compile(r"Pipeline '(?P<pipeline>[^']+)' finished with status (?P<status>\w+)")
_OUTPUTS = re.compile(r"Task '[^']+' outputs:")
_STAGE_LINE = re.compile(r"^(?: {4})+(?=[A-Za-z])")
_SEPARATOR = "-" * 20


def count_tasks(spec: dict[str, Any], *, runtime_items: int = 1) -> int:
    """Tasks a compiled pipeline (KFP IR as a dict) executes: every loop's body once per item.

    A loop over a list made at run time (the prepare fan-out over the acquisitions) counts
    ``runtime_items`` times; other sub-DAGs without an item list (conditions) count once.
    """
    components = spec.get("components", {})

    def in_dag(dag: dict[str, Any]) -> int:
        total = 0
        for task in dag.get("tasks", {}).values():
            component = components.get(task.get("componentRef", {}).get("name", ""), {})
            if "dag" not in component:
                total += 1
                continue
            items = task.get("parameterIterator", {}).get("items", {})
            count = len(json.loads(items["raw"])) if "raw" in items else runtime_items if items else 1
            total += count * in_dag(component["dag"])
        return total

    return in_dag(spec.get("root", {}).get("dag", {}))


def prepare_branches(profile: Profile) -> int:
    """Branches the prepare fan-out will have.

    The phantom's (or the listed) acquisitions, dealt to the runner's slots when ``prepare.grouping``
    is ``slots``; for a lab's files, whose count is known only at run time, the runner's slots.
    """
    source = profile.prepare.source
    if source.acquisition_ids:
        acquisitions = len(source.acquisition_ids)
    elif source.phantom and not source.ingest_spec:
        acquisitions = 2 * profile.simulate.fields_per_condition
    else:
        acquisitions = LOCAL_SLOTS
    return min(acquisitions, LOCAL_SLOTS) if profile.prepare.grouping == "slots" else acquisitions


class ConsoleProgress:
    """Filters a local run's output lines into the console lines described in the module docstring.

    Parameters
    ----------
    write
        Receives each console line (without newline).
    clock
        Seconds since an arbitrary origin (``time.monotonic``; tests pass their own).
    """

    def __init__(self, write: Callable[[str], None], clock: Callable[[], float] = time.monotonic) -> None:
        self.write, self.clock = write, clock
        self.total: int | None = None
        self.started_at = clock()
        self.task_started: dict[str, list[list[Any]]] = {}
        """Per task name, its running iterations: [start time, overlapped another iteration, number]."""
        self.started = self.finished = 0
        self.in_outputs = False

    def feed(self, plain: str) -> None:
        """One line of the child's output, colour codes removed."""
        line = plain.rstrip("\n")
        for show in self._console_lines(line):
            self.write(show)

    def _console_lines(self, line: str) -> Iterator[str]:
        if line.startswith(PLAN_PREFIX):
            self.total = int(line[len(PLAN_PREFIX):].split()[0])
            return
        if self.in_outputs:
            self.in_outputs = not (line.startswith(_SEPARATOR) or _STARTED.search(line) or _PIPELINE_DONE.search(line))
        if ERROR_PREFIX in line:
            yield line.strip()
            return
        if TIMING_PREFIX in line:  # for make bench, in run.log only
            return
        if match := _STARTED.search(line):
            self.started += 1
            running = self.task_started.setdefault(match["task"], [])
            for entry in running:
                entry[1] = True
            running.append([self.clock(), bool(running), self.started])
            yield f"[{self._position(self.started)}] {match['task']} started (elapsed {self._elapsed()})"
        elif match := _FINISHED.search(line):
            self.finished += 1
            number, took = self._ended(match["task"])
            yield (f"[{self._position(number)}] {match['task']} {match['status'].lower()}"
                   f"{took} (elapsed {self._elapsed()}{self._eta(number)})")
        elif match := _RETRYING.search(line):
            # The failed attempt was counted as started and finished; the retry counts as the same task.
            self.started -= 1
            self.finished -= 1
            yield (f"[{self._position(self.started + 1)}] {match['task']} retrying "
                   f"(attempt {int(match['attempt']) + 1} of {match['attempts']})")
        elif match := _CACHE_HIT.search(line):
            self.started += 1
            self.finished += 1
            yield (f"[{self._position(self.started)}] {match['task']} cached "
                   f"(elapsed {self._elapsed()}{self._eta(self.started)})")
        elif _OUTPUTS.search(line):
            self.in_outputs = True
        elif match := _PIPELINE_DONE.search(line):
            yield f"pipeline {match['pipeline']} {match['status'].lower()} (elapsed {self._elapsed()})"
        elif not self.in_outputs and _STAGE_LINE.match(line):
            yield "    " + line.lstrip(" ")

    def _ended(self, task: str) -> tuple[int, str]:
        """The number an ending task started with (its earliest running iteration's), and `` in <duration>``.

        The duration is left out when iterations of one loop task overlap (which one ended is unknown).
        """
        running = self.task_started.get(task, [])
        if not running:
            return self.finished, ""
        started, overlapped, number = running.pop(0)
        return number, "" if overlapped else f" in {format_seconds(self.clock() - started)}"

    def _position(self, k: int) -> str:
        return f"task {k}/{self.total}" if self.total else f"task {k}"

    def _elapsed(self) -> str:
        return format_seconds(self.clock() - self.started_at)

    def _eta(self, number: int) -> str:
        """`` ETA ~...`` from the mean time per ended task; nothing once task ``number`` is the last one."""
        if not self.total or not self.finished or max(self.finished, number) >= self.total:
            return ""
        per_task = (self.clock() - self.started_at) / self.finished
        return f", ETA ~{format_seconds(per_task * (self.total - self.finished))}"
