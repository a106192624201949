"""Recurring runs on Kubeflow: six-field cron checked first, then uploaded and scheduled one at a time."""

import re

import pytest

from stainworth.cli import main
from stainworth.errors import ConfigError
from stainworth.launch.schedule import check_cron, schedule_cluster
from stainworth.profiles import load_profile


@pytest.mark.parametrize("cron", ["0 0 2 * * *", "*/30 * * * * ?", "0 15 10 ? * MON-FRI", "0 0 0 1,15 JAN-JUN *",
                                  "0 0 */6 * * 0"])
def test_six_field_schedules_are_accepted(cron):
    assert check_cron(cron) == cron


@pytest.mark.parametrize(("cron", "message"), [
    ("0 2 * * *", r"5 field\(s\); expected 6 \(seconds .*\); KFP cron has six fields, seconds first: "
                  r"try '0 0 2 \* \* \*'"),
    ("0 0 2 * * * *", r"7 field\(s\); expected 6"),
    ("60 0 2 * * *", r"seconds field has '60'; expected 0-59"),
    ("0 0 24 * * *", r"hours field has '24'; expected 0-23"),
    ("0 0 2 0 * *", r"day of month field has '0'; expected 1-31"),
    ("0 0 2 * FOO *", r"month field has 'FOO'; expected 1-12 or JAN..DEC"),
    ("0 0 2 * * 5-1", r"day of week field has the range '5-1' backwards"),
    ("0 0 */0 * * *", r"hours field has step 0"),
    ("? 0 2 * * *", r"seconds field has '\?'"),
    ("0 0 2 * * L", r"day of week field has 'L'; expected 0-6 or SUN..SAT"),
])
def test_wrong_schedules_are_one_line(cron, message):
    with pytest.raises(ConfigError, match=rf"^CRON='{re.escape(cron)}': {message}"):
        check_cron(cron)


def test_a_recurring_run_is_created_one_at_a_time_without_catch_up(kfp_api, tmp_path):
    host, state = kfp_api
    made = schedule_cluster("retrain", load_profile("smoke"), host=host, cron="0 0 2 * * *",
                            dist_dir=str(tmp_path))
    assert [p["display_name"] for p in state.pipelines] == ["stainworth-retrain-smoke"]
    recurring = state.recurring_runs[0]
    assert recurring["recurring_run_id"] == made.recurring_run_id and recurring["display_name"] == made.name
    assert recurring["trigger"] == {"cron_schedule": {"cron": "0 0 2 * * *"}}
    assert int(recurring["max_concurrency"]) == 1 and recurring["no_catchup"] is True
    assert recurring["pipeline_version_reference"]["pipeline_version_id"] == state.versions[0]["pipeline_version_id"]
    assert recurring["experiment_id"] == state.experiments[0]["experiment_id"]


def test_cli_schedule_refuses_a_bad_cron_before_contacting_anyone(capsys):
    assert main(["schedule", "retrain", "--cron", "0 2 * * *", "--host", "http://127.0.0.1:9"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "try '0 0 2 * * *'" in error


def test_cli_schedule_without_a_host_says_use_watch(capsys, monkeypatch):
    monkeypatch.delenv("KFP_HOST", raising=False)
    assert main(["schedule", "retrain", "--cron", "0 0 2 * * *"]) == 2
    assert "KFP_HOST is not set" in capsys.readouterr().err


def test_cli_schedule_prints_the_recurring_run(kfp_api, tmp_path, monkeypatch, capsys):
    host, state = kfp_api
    monkeypatch.chdir(tmp_path)
    assert main(["schedule", "retrain", "--cron", "0 0 2 * * *", "--host", host, "--profile", "smoke"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    assert printed.endswith(f"/#/recurringrun/details/{state.recurring_runs[0]['recurring_run_id']}")
