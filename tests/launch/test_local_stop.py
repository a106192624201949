"""Stopping a local run: Ctrl-C or SIGTERM ends every process of the run within seconds; the same command resumes."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

STOPPED_WITHIN_S = 30.0


def _submit_command(tmp_path):
    return [sys.executable, "-c", "import sys; from stainworth.cli import main; sys.exit(main(sys.argv[1:]))",
            "submit", "cls_capacity", "--profile", "smoke", "--runs-dir", str(tmp_path / "runs")]


def _processes_mentioning(text):
    """Process ids whose command line mentions ``text`` (this test's own folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in command:
            found.append(int(entry.name))
    return found


def _start_and_wait_for_training(tmp_path):
    """Start ``stainworth submit`` as a terminal would (its own process group) and return once training runs."""
    env = dict(os.environ, STAINWORTH_STORE=f"file://{tmp_path}/store")
    process = subprocess.Popen(_submit_command(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env=env, start_new_session=True)
    seen = []
    assert process.stdout is not None
    for line in process.stdout:
        seen.append(line)
        if "train_task run" in line:
            return process, seen
    pytest.fail("the run ended before any training started:\n" + "".join(seen[-20:]))


def _stop(process, signum):
    os.killpg(process.pid, signum)  # as the terminal sends Ctrl-C: to the foreground process group
    started = time.monotonic()
    out, _ = process.communicate(timeout=STOPPED_WITHIN_S + 30)
    return process.returncode, out, time.monotonic() - started


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stopped_run_ends_every_process_and_the_same_command_resumes(tmp_path, signum, code):
    process, _ = _start_and_wait_for_training(tmp_path)
    returncode, out, seconds = _stop(process, signum)
    assert returncode == code, out
    assert seconds < STOPPED_WITHIN_S
    last = out.strip().splitlines()[-1]
    assert last.startswith("stainworth: stopped: run cls_capacity-") and signal.Signals(signum).name in last
    assert "run the same command again to resume" in last
    assert _processes_mentioning(str(tmp_path)) == []  # no task process left writing to the store
    if signum != signal.SIGINT:
        return
    rerun = subprocess.run(_submit_command(tmp_path), capture_output=True, text=True,
                           env=dict(os.environ, STAINWORTH_STORE=f"file://{tmp_path}/store"), timeout=600)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "done in" in rerun.stdout
    logs = sorted((tmp_path / "runs").glob("cls_capacity-*/run.log"))
    assert len(logs) == 2
    second = max(logs, key=lambda log: log.stat().st_mtime).read_text()
    assert "stitched earlier with the same settings, reused" in second
