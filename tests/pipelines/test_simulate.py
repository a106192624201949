"""The simulate pipeline: compiles with cluster settings, runs locally from the compiled YAML."""

import json
import subprocess
import sys

import pytest
import yaml

from stainworth.contracts.acquisition import AcquisitionManifest
from stainworth.contracts.manifest import read_manifest
from stainworth.contracts.simulate import SimulateManifest
from stainworth.errors import PipelineError
from stainworth.launch.compile import compile_pipeline
from stainworth.launch.local import local_profile, run_local
from stainworth.profiles import load_profile
from stainworth.store import open_store

RUN_COMPILED_YAML = """
import json, sys
from kfp import components, local
spec = json.loads(sys.argv[1])
local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=spec["root"], raise_on_error=True)
pipeline = components.load_component_from_file(spec["yaml"])
task = pipeline(store_uri=spec["store"])
print("OUTPUT", task.output.path)
"""


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    return compile_pipeline("simulate", load_profile("smoke"), out)


def test_compiled_yaml_carries_cluster_settings_and_profile_defaults(compiled):
    spec, platform = list(yaml.safe_load_all(compiled.read_text()))
    defaults = spec["root"]["inputDefinitions"]["parameters"]
    assert defaults["simulate_config"]["defaultValue"]["phantom"]["acquisition"]["tile_size_px"] == 384
    assert defaults["store_uri"]["defaultValue"] == "s3://stainworth/store"
    executor = next(iter(platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"].values()))
    assert executor["secretAsEnv"][0]["secretName"] == "stainworth-minio"
    container = next(iter(spec["deploymentSpec"]["executors"].values()))["container"]
    assert container["image"].endswith("/stainworth-cpu:0.1.0")
    assert container["resources"]["resourceMemoryLimit"] == "2Gi"
    assert "accelerator" not in container["resources"]


def test_compiled_yaml_runs_locally(compiled, tmp_path):
    store_uri = f"file://{tmp_path}/store"
    spec = {"yaml": str(compiled), "root": str(tmp_path / "root"), "store": store_uri}
    result = subprocess.run([sys.executable, "-c", RUN_COMPILED_YAML, json.dumps(spec)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    output = next(line for line in result.stdout.splitlines() if line.startswith("OUTPUT"))
    manifest = read_manifest(SimulateManifest, output.split(" ", 1)[1])
    assert manifest.counts["acquisitions"] == 2
    store = open_store(store_uri)
    for key, content_hash in manifest.acquisitions.items():
        assert store.is_complete(key)
        assert store.read_json(f"{key}/manifest.json")["content_hash"] == content_hash


def test_run_local_writes_acquisitions_log_and_profile(tmp_path):
    store_uri = f"file://{tmp_path}/store"
    run = run_local("simulate", load_profile("smoke"), runs_dir=tmp_path / "runs", store_uri=store_uri,
                    echo=False)
    assert run.run_dir.parent == (tmp_path / "runs").resolve()
    log = (run.run_dir / "run.log").read_text()
    assert "simulate 2/2" in log and "\x1b[" not in log
    assert load_profile(str(run.run_dir / "profile.yaml")) == local_profile(load_profile("smoke"))
    manifest = read_manifest(SimulateManifest, run.outputs["acquisitions"])
    store = open_store(store_uri)
    keys = sorted(manifest.acquisitions)
    assert [key.split("-")[-2] for key in keys] == ["control", "treated"]
    local = tmp_path / "fetched"
    store.fetch_dir(keys[0], local)
    acquisition = read_manifest(AcquisitionManifest, local)
    assert acquisition.condition == "control" and acquisition.source == "phantom"
    assert len(acquisition.tiles) == 4 and acquisition.pixel_size_um == pytest.approx(0.32)


def test_failing_task_gives_its_one_line_and_nonzero(tmp_path):
    bad = load_profile("smoke").simulate.model_dump(mode="json") | {"fields_per_condition": 0}
    with pytest.raises(PipelineError) as caught:
        run_local("simulate", load_profile("smoke"), runs_dir=tmp_path, store_uri=f"file://{tmp_path}/s",
                  arguments={"simulate_config": bad}, echo=False)
    message = str(caught.value)
    assert message.startswith("pipeline 'simulate' failed: simulate config: field 'fields_per_condition'")
    assert "found 0" in message and "run.log" in message and "\n" not in message
    assert not (tmp_path / "s" / "acquisitions").exists()


def test_the_console_shows_task_progress_and_the_compiled_pipeline_is_kept(tmp_path, capfd):
    run = run_local("simulate", load_profile("smoke"), runs_dir=tmp_path / "runs", store_uri=f"file://{tmp_path}/s")
    shown = capfd.readouterr().out.splitlines()
    assert shown[0].startswith("[task 1/1] simulate started") and "    simulate 2/2" in "\n".join(shown)
    assert shown[-1].startswith("pipeline stainworth-simulate success")
    assert not any("{" in line or "Warning" in line for line in shown)
    assert "Got executor_input" in (run.run_dir / "run.log").read_text()
    assert "stainworth-simulate" in (run.run_dir / "pipeline.yaml").read_text()
