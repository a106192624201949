"""The console view of a local run: task k of n with ETA, stage progress, errors; kfp.local's JSON dumps left out."""

import yaml

from stainworth.launch.compile import compile_pipeline
from stainworth.launch.console import PLAN_PREFIX, ConsoleProgress, count_tasks, prepare_branches
from stainworth.pipelines.sweeps import sweep_units
from stainworth.profiles import load_profile

KFP_OUTPUT = """\
01:40:20.189 - INFO - Running pipeline: 'stainworth-prepare'
--------------------------------------------------------------------------------
/x/kfp/local/orchestrator/task_executor.py:100: UserWarning: Task 'ingest': settings ['cpu_limit'] have no effect
  _warn_local_only_noops(task_name, task_spec, executor_spec.container)
01:40:20.195 - INFO - Executing task 'ingest'
01:40:20.196 - INFO - Streamed logs:

    [KFP Executor 2026-11-30 01:40:20,243 INFO]: Got executor_input:
    {
        "inputs": {
            "parameterValues": {"config": {"seed": 0}}
        }
    }
    simulate 1/2 phantom-control-000: 451 cells (elapsed 1.6s, ETA 1.6s)
    simulate 2/2 phantom-treated-000: 438 cells (elapsed 3.0s, ETA 0.0s)
    stainworth-timing: ingest work 3.10 process 7.42
    [KFP Executor 2026-11-30 01:40:34,383 INFO]: Wrote executor output file to /x/executor_output.json.

01:40:34.578 - INFO - Task 'ingest' finished with status SUCCESS
01:40:34.579 - INFO - Task 'ingest' outputs:
    ingested: Dataset( name='ingested',
                       uri='/x/ingested',
                       metadata={'stage': 'ingest'} )
--------------------------------------------------------------------------------
01:40:34.580 - INFO - Executing task 'stitch'
    stainworth-error: stitch config: field 'overlap': found 2; expected a value below 1
01:40:35.000 - ERROR - Task 'stitch' finished with status FAILURE
01:40:35.100 - ERROR - Pipeline 'stainworth-prepare' finished with status FAILURE
"""


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        self.now += 1.0
        return self.now


def console_lines(text, plan=None):
    shown = []
    console = ConsoleProgress(shown.append, clock=Clock())
    if plan is not None:
        console.feed(f"{PLAN_PREFIX} {plan} tasks\n")
    for line in text.splitlines(keepends=True):
        console.feed(line)
    return shown


def test_the_console_keeps_task_lines_stage_progress_and_errors_only():
    shown = console_lines(KFP_OUTPUT, plan=4)
    assert shown[0].startswith("[task 1/4] ingest started")
    assert shown[1:3] == ["    simulate 1/2 phantom-control-000: 451 cells (elapsed 1.6s, ETA 1.6s)",
                          "    simulate 2/2 phantom-treated-000: 438 cells (elapsed 3.0s, ETA 0.0s)"]
    assert shown[3].startswith("[task 1/4] ingest success in ") and ", ETA ~" in shown[3]
    assert shown[4].startswith("[task 2/4] stitch started")
    assert shown[5] == "stainworth-error: stitch config: field 'overlap': found 2; expected a value below 1"
    assert shown[6].startswith("[task 2/4] stitch failure in ")
    assert shown[7].startswith("pipeline stainworth-prepare failure")
    assert len(shown) == 8
    text = "\n".join(shown)
    assert "{" not in text and "Warning" not in text and "KFP Executor" not in text and "Dataset(" not in text


def test_without_a_plan_the_console_counts_without_a_total():
    shown = console_lines(KFP_OUTPUT)
    assert shown[0].startswith("[task 1] ingest started") and ", ETA" not in shown[3]


def test_count_tasks_counts_every_loop_item(tmp_path):
    profile = load_profile("smoke")
    path = compile_pipeline("cls_capacity", profile, tmp_path)
    spec = next(yaml.safe_load_all(path.read_text()))
    units = len(sweep_units(profile.tasks, "classification", ["capacity"]))
    # ingest, acquisition groups, a stitch, register and label per branch, merge, extract; two stainers,
    # two applications, one stain report; evaluate; the study report
    assert count_tasks(spec) == 2 + 3 + 2 + 2 + 2 + 1 + 1 + 1 + units
    assert count_tasks(spec, runtime_items=2) == count_tasks(spec) + 3


def test_the_prepare_branches_follow_the_acquisitions_and_the_grouping():
    smoke = load_profile("smoke")  # one field per condition
    assert prepare_branches(smoke) == 2
    assert prepare_branches(load_profile("mini", ["prepare.grouping=slots"])) == 2
    assert prepare_branches(load_profile("mini")) == 2 * load_profile("mini").simulate.fields_per_condition
    assert prepare_branches(load_profile("smoke", ["prepare.source.acquisition_ids=[a, b, c]"])) == 3


def test_overlapping_iterations_of_one_loop_task_get_no_duration():
    lines = ["01:00:00.000 - INFO - Executing task 'train-task'", "01:00:00.001 - INFO - Executing task 'train-task'",
             "01:00:01.000 - INFO - Task 'train-task' finished with status SUCCESS",
             "01:00:02.000 - INFO - Task 'train-task' finished with status SUCCESS"]
    shown = console_lines("\n".join(lines), plan=2)
    assert shown[2].startswith("[task 1/2] train-task success (elapsed")
    assert shown[3].startswith("[task 2/2] train-task success (elapsed")


def test_a_retried_task_keeps_its_number():
    lines = ["01:00:00.000 - INFO - Executing task 'train-task'",
             "01:00:01.000 - ERROR - Task 'train-task' finished with status FAILURE",
             "01:00:01.001 - INFO - Task train-task failed (attempt 1/2). Retrying in 0.0s...",
             "01:00:01.002 - INFO - Executing task 'train-task'",
             "01:00:02.000 - INFO - Task 'train-task' finished with status SUCCESS",
             "01:00:03.000 - INFO - Executing task 'evaluate'",
             "01:00:04.000 - INFO - Task 'evaluate' finished with status SUCCESS"]
    shown = console_lines("\n".join(lines), plan=2)
    assert [line.split("]")[0] for line in shown] == ["[task 1/2", "[task 1/2", "[task 1/2", "[task 1/2",
                                                       "[task 1/2", "[task 2/2", "[task 2/2"]
    assert shown[2] == "[task 1/2] train-task retrying (attempt 2 of 2)"
    assert shown[1].startswith("[task 1/2] train-task failure") and shown[4].startswith("[task 1/2] train-task success")


def test_a_cached_task_counts_once():
    lines = ["01:00:00.000 - INFO - Task ingest cache hit (key=0123456789ab); skipping execution.",
             "01:00:01.000 - INFO - Executing task 'stitch'",
             "01:00:02.000 - INFO - Task 'stitch' finished with status SUCCESS"]
    shown = console_lines("\n".join(lines), plan=2)
    assert shown[0].startswith("[task 1/2] ingest cached (elapsed") and ", ETA ~" in shown[0]
    assert shown[1].startswith("[task 2/2] stitch started") and shown[2].startswith("[task 2/2] stitch success")


def test_a_lost_end_of_a_loop_iteration_does_not_shift_later_numbers_or_hide_stage_lines():
    # kfp.local's loop threads race on builtins.print: one iteration's end is not logged, and the
    # output of later tasks keeps eight more spaces of indentation.
    lines = ["01:00:00.000 - INFO - Executing task 'train-task'", "01:00:00.001 - INFO - Executing task 'train-task'",
             "01:00:01.000 - INFO - Task 'train-task' finished with status SUCCESS",
             "01:00:02.000 - INFO - Executing task 'publish'",
             "            {",
             '                "outputFile": "/x/executor_output.json"',
             "            }",
             "            publish 1/1 efficientunet: v2 holdout ssim 0.590 vs current v1 0.577: current",
             "01:00:03.000 - INFO - Task 'publish' finished with status SUCCESS",
             "01:00:03.001 - INFO - Task 'publish' outputs:",
             "            published: Artifact( name='published' )",
             "01:00:04.000 - INFO - Executing task 'report'",
             "01:00:05.000 - INFO - Task 'report' finished with status SUCCESS"]
    shown = console_lines("\n".join(lines), plan=4)
    assert [line.split("]")[0] for line in shown if line.startswith("[")] == [
        "[task 1/4", "[task 2/4", "[task 1/4", "[task 3/4", "[task 3/4", "[task 4/4", "[task 4/4"]
    assert "    publish 1/1 efficientunet: v2 holdout ssim 0.590 vs current v1 0.577: current" in shown
    assert shown[-1].startswith("[task 4/4] report success") and "ETA" not in shown[-1]
    assert not any("outputFile" in line or "Artifact(" in line for line in shown)
