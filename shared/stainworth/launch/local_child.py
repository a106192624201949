"""Child process of a local run: kfp.local executes the pipeline here.

kfp.local patches ``print`` and the root logger, so it runs in a process of its own. The parent
(:mod:`stainworth.launch.local`) streams this process's output into the run log. This process
leads its own process group (every task process kfp.local starts belongs to it): on SIGTERM, or
when the parent dies (Linux parent-death signal), it ends the whole group, so no task goes on
writing to the store after the run was stopped.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from stainworth.launch.console import PLAN_PREFIX, count_tasks, prepare_branches


def _artifact_paths(outputs: Any) -> dict[str, str]:
    """Output artifacts by pipeline output name (a single unnamed output: by its task output's name)."""
    if not isinstance(outputs, dict):
        return {}
    paths = {key: getattr(value, "path", None) for key, value in outputs.items()}
    return {(Path(path).name if key == "Output" else key): path for key, path in paths.items() if path}


def _compile(pipeline: Any, target: Path, *, branches: int) -> int:
    """Write the compiled pipeline that runs beside its outputs; return how many tasks it executes."""
    import yaml
    from kfp import compiler

    compiler.Compiler().compile(pipeline, str(target))
    with target.open() as stream:
        return count_tasks(next(yaml.safe_load_all(stream)), runtime_items=branches)


_PR_SET_PDEATHSIG = 1
PARENT_PID_ENV = "STAINWORTH_RUN_PARENT"
"""The parent's process id, so that a parent that died before the death signal was set is noticed."""


def _end_group_on_stop() -> None:
    """SIGTERM (or the parent's death) ends this process's whole group, this process last."""

    def _end_group(_signum: int, _frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.killpg(os.getpgrp(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, _end_group)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))
        if os.getppid() != int(os.environ.get(PARENT_PID_ENV, os.getppid())):  # died before the signal was set
            _end_group(signal.SIGTERM, None)


def main(argv: list[str] | None = None) -> int:
    """Run the pipeline described by the spec file; exit 0 on success, 1 on a failed task."""
    parser = argparse.ArgumentParser(prog="stainworth-local-child")
    parser.add_argument("spec", type=Path, help="JSON run specification written by the parent")
    spec = json.loads(parser.parse_args(argv).spec.read_text())
    if os.getpgrp() == os.getpid():  # started as a group of its own by the parent
        _end_group_on_stop()

    from kfp import local

    from stainworth.pipelines import build_pipeline
    from stainworth.profiles import load_profile

    profile = load_profile(spec["profile_file"])
    pipeline = build_pipeline(spec["pipeline"], profile)
    tasks = _compile(pipeline, Path(spec["compiled_file"]), branches=prepare_branches(profile))
    print(f"{PLAN_PREFIX} {tasks} tasks", flush=True)
    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=spec["pipeline_root"],
        raise_on_error=True,
    )
    try:
        task = pipeline(**spec["arguments"])
    except RuntimeError as error:
        print(f"local run failed: {error}", file=sys.stderr, flush=True)
        return 1
    outputs = getattr(task, "outputs", None)
    Path(spec["result_file"]).write_text(json.dumps({"outputs": _artifact_paths(outputs)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
