"""Local target: run a pipeline through kfp.local in a child process, logs kept.

Layout of a run: ``runs/<run-id>/`` is the KFP pipeline root; beside the task outputs it holds
``profile.yaml`` (the resolved profile), ``pipeline.yaml`` (the compiled pipeline that ran),
``run.log`` (everything the run printed) and ``result.json`` (where the outputs are). The
console shows the filtered view of :mod:`stainworth.launch.console` (``verbose``: everything).

Stopping a run: the child runs in a session of its own, so Ctrl-C reaches only this process, which
then ends the child's whole process group (kfp.local and every task process it started: SIGTERM,
then SIGKILL after a grace period) and raises :class:`~stainworth.errors.RunStopped` (exit code
130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP). Finished outputs stay in the store (a stage
publishes an output whole or not at all) and an interrupted training keeps its last checkpoint, so
the same command again resumes. Should this process itself be killed outright, the child notices
(Linux parent-death signal) and ends its group the same way.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stainworth.contracts.profile import Profile
from stainworth.errors import PipelineError, RunStopped
from stainworth.launch.console import ConsoleProgress
from stainworth.launch.local_child import PARENT_PID_ENV
from stainworth.pipelines.sweeps import check_profile_networks, pipeline_tasks
from stainworth.profiles import save_profile
from stainworth.runner.environment import TASK_ENVIRONMENT
from stainworth.runner.stage_entry import ERROR_PREFIX
from stainworth.runner.threads import PARALLEL_TASKS_ENV
from stainworth.store import open_store

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
LOCAL_PARALLEL_TASKS = 2
"""Loop iterations kfp.local 2.17 runs at once (its ``ParallelExecutor`` caps every loop at 2)."""
STOP_GRACE_S = 10.0
"""Seconds the run's processes get to end after SIGTERM before they are killed."""
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass(frozen=True)
class LocalRun:
    """A finished local run."""

    run_id: str
    run_dir: Path
    store_uri: str
    outputs: dict[str, str]
    seconds: float


def new_run_id(pipeline: str) -> str:
    """``<pipeline>-<UTC timestamp>-<4 hex>``: unique, sortable, readable."""
    return f"{pipeline}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(2)}"


def local_store_uri(runs_dir: str | Path = "runs", store_uri: str | None = None) -> str:
    """The store a local run uses: ``store_uri``, else ``$STAINWORTH_STORE``, else ``<runs_dir>/store``."""
    return store_uri or os.environ.get("STAINWORTH_STORE") or f"file://{Path(runs_dir).resolve()}/store"


def local_profile(profile: Profile) -> Profile:
    """The profile as a local run uses it: trainings and acquisitions grouped per runner slot unless it says otherwise.

    One ``train_task`` process per slot pays the imports and kfp.local's start-up once for half of
    all trainings (``tasks.grouping``), one stitch → register → label branch per slot for half of
    the acquisitions (``prepare.grouping``); a cluster run keeps one GPU task per training and one
    branch per acquisition.
    """
    update: dict[str, Any] = {}
    if profile.tasks.grouping is None:
        update["tasks"] = profile.tasks.model_copy(update={"grouping": "slots"})
    if profile.prepare.grouping is None:
        update["prepare"] = profile.prepare.model_copy(update={"grouping": "slots"})
    return profile.model_copy(update=update) if update else profile


def run_local(
    pipeline: str,
    profile: Profile,
    *,
    runs_dir: str | Path = "runs",
    store_uri: str | None = None,
    run_id: str | None = None,
    arguments: dict[str, Any] | None = None,
    echo: bool = True,
    verbose: bool = False,
) -> LocalRun:
    """Run ``pipeline`` locally on ``profile`` and return where its outputs are.

    ``arguments`` overrides pipeline parameters as the Kubeflow dashboard would (the profile
    supplies the defaults). ``echo``: show progress on the console (``verbose``: every line the
    run prints); the whole output goes to ``run.log`` either way.

    Raises
    ------
    ConfigError
        A network of your own that cannot be built or does not fit the task's images (before
        anything runs).
    PipelineError
        When any task fails; the message quotes the task's own error line and names the log.
    RunStopped
        When Ctrl-C, SIGTERM or SIGHUP stopped the run; every process of the run has ended.
    """
    check_profile_networks(profile, pipeline_tasks(pipeline, profile))  # networks of your own: built and probed first
    store = open_store(local_store_uri(runs_dir, store_uri))
    store.probe()  # an unreachable store or bad credentials stop the run before it starts
    profile = local_profile(profile)
    run_id = run_id or new_run_id(pipeline)
    run_dir = (Path(runs_dir) / run_id).resolve()
    run_dir.mkdir(parents=True, exist_ok=False)
    spec = {
        "pipeline": pipeline,
        "profile_file": str(save_profile(profile, run_dir / "profile.yaml")),
        "pipeline_root": str(run_dir),
        "arguments": {"store_uri": store.uri, **(arguments or {})},
        "result_file": str(run_dir / "result.json"),
        "compiled_file": str(run_dir / "pipeline.yaml"),
    }
    spec_file = run_dir / "run_spec.json"
    spec_file.write_text(json.dumps(spec, indent=2))
    started = time.perf_counter()
    console = None if not echo else _print_line if verbose else ConsoleProgress(_print_line).feed
    try:
        code, errors = _run_child(spec_file, run_dir / "run.log", console=console)
    except _Signalled as stop:
        name = signal.Signals(stop.signum).name
        raise RunStopped(f"run {run_id} stopped by {name} after {time.perf_counter() - started:.0f}s; "
                         f"finished outputs are kept in {store.uri} and an interrupted training keeps its "
                         f"checkpoint: run the same command again to resume (log: {run_dir / 'run.log'})",
                         stop.signum) from None
    seconds = time.perf_counter() - started
    if code != 0:
        reason = errors[-1] if errors else f"the local runner exited with code {code}"
        raise PipelineError(f"pipeline '{pipeline}' failed: {reason} (log: {run_dir / 'run.log'})")
    outputs = json.loads((run_dir / "result.json").read_text())["outputs"]
    return LocalRun(run_id=run_id, run_dir=run_dir, store_uri=store.uri, outputs=outputs, seconds=seconds)


def _print_line(line: str) -> None:
    print(line.rstrip("\n"), flush=True)


class _Signalled(BaseException):
    """Raised in the main thread by a stop signal while a run is in progress."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextmanager
def _stop_signals_raise() -> Iterator[None]:
    """Turn Ctrl-C, SIGTERM and SIGHUP into :class:`_Signalled` while the block runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum: int, _frame: object) -> None:
        raise _Signalled(signum)

    previous = {signum: signal.signal(signum, _raise) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def stop_process_group(pgid: int, *, grace_s: float = STOP_GRACE_S) -> None:
    """End every process of group ``pgid``: SIGTERM, then SIGKILL to whatever is left after ``grace_s``."""
    for signum, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, grace_s)):
        try:
            os.killpg(pgid, signum)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)


def _run_child(spec_file: Path, log_file: Path, *, console: Callable[[str], None] | None) -> tuple[int, list[str]]:
    """Run the child, its output into the log and through ``console``, collect task error lines.

    The child leads a session of its own; on a stop signal its whole group is ended before
    :class:`_Signalled` goes on up.
    """
    command = [sys.executable, "-u", "-m", "stainworth.launch.local_child", str(spec_file)]
    env = dict(os.environ, PYTHONUNBUFFERED="1", **TASK_ENVIRONMENT, **{PARALLEL_TASKS_ENV: str(LOCAL_PARALLEL_TASKS),
                                                                          PARENT_PID_ENV: str(os.getpid())})
    errors: list[str] = []
    with _stop_signals_raise(), open(log_file, "w") as log:
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                                 start_new_session=True)
        try:
            assert child.stdout is not None
            for line in child.stdout:
                plain = _ANSI.sub("", line)
                log.write(plain)
                log.flush()
                if console is not None:
                    console(plain)
                if ERROR_PREFIX in plain:
                    errors.append(plain.split(ERROR_PREFIX, 1)[1].strip())
            code = child.wait()
        except BaseException:
            stop_process_group(child.pid)
            child.wait()
            raise
        finally:
            if child.stdout is not None:
                child.stdout.close()
    return code, errors
