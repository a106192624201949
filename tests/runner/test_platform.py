"""Cluster settings land in the compiled YAML, on the right tasks, and never as secret values."""

import yaml
from kfp import compiler, dsl

from stainworth.contracts.cluster import ClusterConfig, Resources
from stainworth.runner.platform import configure_task


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def step(x: int) -> int:
    return x + 1


def compile_two_task_pipeline(tmp_path, cluster):
    @dsl.pipeline(name="two-tasks")
    def two_tasks(x: int = 1):
        cpu = step(x=x).set_display_name("cpu")
        configure_task(cpu, cluster, gpu=False)
        gpu = step(x=cpu.output).set_display_name("gpu")
        configure_task(gpu, cluster, gpu=True)

    path = tmp_path / "p.yaml"
    compiler.Compiler().compile(two_tasks, str(path))
    documents = list(yaml.safe_load_all(path.read_text()))
    return documents[0], documents[1], path.read_text()


def executor_resources(spec, label):
    tasks = spec["root"]["dag"]["tasks"]
    task = next(t for t in tasks.values() if t["taskInfo"]["name"] == label)
    executor = spec["deploymentSpec"]["executors"][task["componentRef"]["name"].replace("comp-", "exec-")]
    return task, executor["container"]


def test_gpu_settings_only_on_gpu_tasks(tmp_path):
    cluster = ClusterConfig(gpu_task=Resources(cpu="4", memory="16Gi", gpus=2), retries=3)
    spec, platform, _ = compile_two_task_pipeline(tmp_path, cluster)
    _, cpu_container = executor_resources(spec, "cpu")
    _, gpu_container = executor_resources(spec, "gpu")
    assert "accelerator" not in cpu_container["resources"]
    assert gpu_container["resources"]["accelerator"]["resourceCount"] == "2"
    assert gpu_container["resources"]["accelerator"]["resourceType"] == "nvidia.com/gpu"
    assert gpu_container["resources"]["resourceMemoryLimit"] == "16Gi"
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    gpu_exec = next(e for e in executors.values() if "nodeSelector" in e)
    assert gpu_exec["nodeSelector"]["labels"] == {"stainworth.io/pool": "gpu"}
    assert gpu_exec["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert sum("nodeSelector" in e for e in executors.values()) == 1
    assert sum("tolerations" in e for e in executors.values()) == 1


def test_every_task_gets_secret_env_endpoint_and_retries(tmp_path):
    spec, platform, _ = compile_two_task_pipeline(tmp_path, ClusterConfig(retries=3))
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert len(executors) == 2
    for executor in executors.values():
        secret = executor["secretAsEnv"][0]
        assert secret["secretName"] == "stainworth-minio"
        assert {k["envVar"] for k in secret["keyToEnv"]} == {"MINIO_ACCESS_KEY", "MINIO_SECRET_KEY"}
    for label in ("cpu", "gpu"):
        task, container = executor_resources(spec, label)
        assert task["retryPolicy"]["maxRetryCount"] == 3
        assert {"name": "MINIO_ENDPOINT", "value": "minio-service.kubeflow:9000"} in container["env"]
        assert {"name": "MALLOC_ARENA_MAX", "value": "2"} in container["env"]  # the tasks' environment


def test_no_gpu_pool_settings_when_profile_has_no_gpus(tmp_path):
    cluster = ClusterConfig(gpu_task=Resources(gpus=0), gpu_toleration=None)
    spec, platform, _ = compile_two_task_pipeline(tmp_path, cluster)
    _, gpu_container = executor_resources(spec, "gpu")
    assert "accelerator" not in gpu_container["resources"]
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert not any("nodeSelector" in e or "tolerations" in e for e in executors.values())


def test_secret_values_never_compiled(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIO_SECRET_KEY", "very-secret-value-123")
    monkeypatch.setenv("MINIO_ACCESS_KEY", "access-key-456")
    _, _, text = compile_two_task_pipeline(tmp_path, ClusterConfig())
    assert "very-secret-value-123" not in text and "access-key-456" not in text
