"""Cluster-only task settings, applied in one place from the profile.

Resources, GPU accelerator, GPU node-pool selector and toleration, the scratch volume, the MinIO
secret and :data:`~stainworth.runner.environment.TASK_ENVIRONMENT` as environment, and retries end
up in the compiled pipeline YAML (the container spec and the ``kubernetes`` platform section). The
local runner ignores them (it sets the same environment itself).
"""

from __future__ import annotations

from kfp import kubernetes
from kfp.dsl import PipelineTask

from stainworth.contracts.cluster import ClusterConfig
from stainworth.runner.environment import TASK_ENVIRONMENT

SECRET_KEYS = {"accesskey": "MINIO_ACCESS_KEY", "secretkey": "MINIO_SECRET_KEY"}
"""Keys of the MinIO Secret and the environment variables they become in the pods."""
SCRATCH_MOUNT = "/scratch"
"""Where the scratch claim is mounted (and ``TMPDIR`` points) when the profile names one."""


def configure_task(task: PipelineTask, cluster: ClusterConfig, *, gpu: bool) -> PipelineTask:
    """Apply the profile's cluster settings to one task.

    Parameters
    ----------
    task
        A task inside a pipeline definition.
    cluster
        The profile's cluster section.
    gpu
        True for training tasks: GPU limit, node selector and toleration of the GPU pool.

    Resources: ``cluster.requests`` of the task's component when the profile has them (measured by
    ``make plan``), else ``cluster.gpu_task`` or ``cluster.cpu_task``.
    """
    component = task.component_spec.name.replace("-", "_")  # KFP names components with hyphens
    resources = cluster.requests.get(component) or (cluster.gpu_task if gpu else cluster.cpu_task)
    task.set_cpu_request(resources.cpu).set_cpu_limit(resources.cpu)
    task.set_memory_request(resources.memory).set_memory_limit(resources.memory)
    if gpu and resources.gpus > 0:
        task.set_accelerator_type(cluster.accelerator_type)
        task.set_accelerator_limit(resources.gpus)
        for key, value in cluster.gpu_node_selector.items():
            kubernetes.add_node_selector(task, label_key=key, label_value=value)
        if cluster.gpu_toleration is not None:
            toleration = cluster.gpu_toleration
            kubernetes.add_toleration(task, key=toleration.key, operator=toleration.operator,
                                      value=toleration.value, effect=toleration.effect)
    if cluster.scratch_pvc:
        kubernetes.mount_pvc(task, pvc_name=cluster.scratch_pvc, mount_path=SCRATCH_MOUNT)
        task.set_env_variable("TMPDIR", SCRATCH_MOUNT)
    kubernetes.use_secret_as_env(task, secret_name=cluster.minio_secret, secret_key_to_env=SECRET_KEYS)
    task.set_env_variable("MINIO_ENDPOINT", cluster.minio_endpoint)
    for name, value in TASK_ENVIRONMENT.items():
        task.set_env_variable(name, value)
    if cluster.retries:
        task.set_retry(num_retries=cluster.retries, backoff_duration="30s", backoff_factor=2.0)
    return task
