"""Every registered pipeline compiles on every profile, loads back, and carries the cluster settings."""

import pytest
import yaml
from kfp import components

from stainworth.pipelines import PIPELINES
from stainworth.profiles import available_profiles, load_profile
from stainworth.runner.compile import compile_pipeline


@pytest.mark.parametrize("profile_name", available_profiles())
@pytest.mark.parametrize("pipeline", sorted(PIPELINES))
def test_compiles_and_loads_back(pipeline, profile_name, tmp_path):
    profile = load_profile(profile_name)
    path = compile_pipeline(pipeline, profile, tmp_path)
    assert path == tmp_path / f"{pipeline}.yaml" and not list(tmp_path.glob(".*"))
    loaded = components.load_component_from_file(str(path))
    assert loaded.name == f"stainworth-{pipeline}"
    spec, platform = list(yaml.safe_load_all(path.read_text()))
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert set(executors) == set(spec["deploymentSpec"]["executors"])
    for executor in executors.values():
        assert executor["secretAsEnv"][0]["secretName"] == profile.cluster.minio_secret
    tasks = spec["root"]["dag"]["tasks"]
    if profile.cluster.retries:
        assert all(task["retryPolicy"]["maxRetryCount"] == profile.cluster.retries for task in tasks.values())


def test_unknown_pipeline_lists_the_known_ones():
    from stainworth.errors import PipelineError
    from stainworth.pipelines import build_pipeline

    with pytest.raises(PipelineError, match=r"pipeline 'nope': unknown; expected one of \['prepare', 'simulate'"):
        build_pipeline("nope", load_profile("smoke"))


def test_stain_trains_and_applies_on_the_gpu_pool_and_the_rest_on_cpu(tmp_path):
    profile = load_profile("paper")
    spec, platform = list(yaml.safe_load_all(compile_pipeline("stain", profile, tmp_path).read_text()))
    executors = spec["deploymentSpec"]["executors"]
    placement = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    names = {name.removeprefix("exec-").rstrip("-0123456789") for name in executors}
    assert {"train-stainer", "apply-stainer", "stain-report", "extract"} <= names
    for name, executor in executors.items():
        resources = executor["container"].get("resources", {})
        on_gpu = name.startswith(("exec-train-stainer", "exec-apply-stainer"))
        assert ("accelerator" in resources) == on_gpu, name
        assert ("nodeSelector" in placement[name]) == on_gpu, name
        assert executor["container"]["image"].endswith("cuda:0.1.0" if on_gpu else "cpu:0.1.0"), name
    tasks = spec["root"]["dag"]["tasks"]
    assert sum(name.startswith("train-stainer") for name in tasks) == 2 * len(profile.stain.datasets)
