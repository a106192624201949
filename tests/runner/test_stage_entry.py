"""run_stage: one line per failure, and the timing line a finished stage prints."""

import re

import pytest

from stainworth.contracts.manifest import OutputManifest
from stainworth.contracts.task import TasksConfig
from stainworth.runner.stage_entry import TIMING_PREFIX, process_seconds, run_stage


def manifest():
    return OutputManifest(stage="demo", config={}, config_hash="0" * 64)


def test_a_finished_stage_prints_its_work_and_process_seconds(capsys):
    run_stage("tasks", TasksConfig, {}, lambda config: manifest())
    line = capsys.readouterr().out.strip()
    match = re.fullmatch(rf"{TIMING_PREFIX} tasks work (?P<work>[\d.]+) process (?P<process>[\d.]+)", line)
    assert match and float(match["work"]) <= float(match["process"])


def test_the_process_age_is_positive_and_grows():
    first = process_seconds()
    assert 0 < first <= process_seconds()


def test_a_bad_config_ends_with_one_line_and_no_timing(capsys):
    with pytest.raises(SystemExit) as ended:
        run_stage("tasks", TasksConfig, {"threshold": 2}, lambda config: manifest())
    out, err = capsys.readouterr()
    assert ended.value.code == 2 and "tasks config: field 'threshold'" in err and TIMING_PREFIX not in out
