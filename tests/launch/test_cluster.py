"""The cluster target against a KFP API server: upload, version, experiment, run URL."""

import json

import pytest
import yaml

from stainworth.cli import main
from stainworth.errors import PipelineError
from stainworth.launch.cluster import run_cluster, run_url
from stainworth.profiles import load_profile


def test_upload_and_run_in_experiment(kfp_api, tmp_path):
    host, state = kfp_api
    run = run_cluster("simulate", load_profile("smoke"), host=host, dist_dir=tmp_path)
    assert run.url == run_url(host, run.run_id) == f"{host}/#/runs/details/{run.run_id}"
    assert [e["display_name"] for e in state.experiments] == ["stainworth"]
    assert [p["display_name"] for p in state.pipelines] == ["stainworth-simulate-smoke"]
    submitted = state.runs[0]
    assert submitted["experiment_id"] == state.experiments[0]["experiment_id"]
    reference = submitted["pipeline_version_reference"]
    assert reference["pipeline_id"] == state.pipelines[0]["pipeline_id"]
    assert reference["pipeline_version_id"] == state.versions[0]["pipeline_version_id"]
    spec, platform = list(yaml.safe_load_all(state.packages[0]))
    assert spec["pipelineInfo"]["name"] == "stainworth-simulate"
    assert "kubernetes" in platform["platforms"]
    assert (tmp_path / "simulate.yaml").read_text() == state.packages[0]


def test_second_submission_adds_a_version_and_reuses_the_experiment(kfp_api, tmp_path):
    host, state = kfp_api
    profile = load_profile("smoke")
    run_cluster("simulate", profile, host=host, dist_dir=tmp_path)
    run_cluster("simulate", profile, host=host, dist_dir=tmp_path)
    assert len(state.pipelines) == 1 and len(state.versions) == 2
    assert len(state.experiments) == 1 and len(state.runs) == 2
    assert state.runs[1]["pipeline_version_reference"]["pipeline_version_id"] == \
        state.versions[1]["pipeline_version_id"]


def test_unreachable_host_one_line(tmp_path):
    with pytest.raises(PipelineError, match=r"^KFP_HOST=http://127.0.0.1:9: cannot reach the Kubeflow"):
        run_cluster("simulate", load_profile("smoke"), host="http://127.0.0.1:9", dist_dir=tmp_path)


def test_cli_prints_run_url(kfp_api, tmp_path, monkeypatch, capsys):
    host, state = kfp_api
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KFP_HOST", host)
    assert main(["submit", "simulate", "--host", host, "--profile", "smoke"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    assert printed == f"run started on Kubeflow: {host}/#/runs/details/{state.runs[0]['run_id']}"
    assert json.loads(json.dumps(state.runs[0]))["display_name"].startswith("simulate-smoke-")
