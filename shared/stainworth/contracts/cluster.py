"""Cluster-only settings of a profile: resources, GPU pool placement, store secret, retries, parallelism.

They are applied to pipeline tasks in one place (:mod:`stainworth.runner.platform`), appear in
the compiled pipeline YAML, and are ignored by the local runner.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from stainworth.contracts.base import StrictModel

_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")


class Resources(StrictModel):
    """Requests and limits of one kind of task."""

    cpu: str = "2"
    """CPU request and limit (Kubernetes quantity)."""
    memory: str = "8Gi"
    """Memory request and limit (Kubernetes quantity)."""
    gpus: int = Field(default=0, ge=0, le=16)
    """Number of GPUs (0: a CPU task, scheduled off the GPU pool)."""

    @field_validator("cpu", "memory")
    @classmethod
    def _kubernetes_quantity(cls, value: str) -> str:
        if not _QUANTITY.match(value):
            raise ValueError(f"'{value}' is not a Kubernetes quantity (e.g. '2', '500m', '8Gi')")
        return value


class Toleration(StrictModel):
    """The toleration GPU tasks need for the GPU pool's taint."""

    key: str = "nvidia.com/gpu"
    operator: Literal["Equal", "Exists"] = "Exists"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"


class ClusterConfig(StrictModel):
    """Everything a Kubeflow cluster run needs beyond the pipeline itself."""

    experiment: str = "stainworth"
    """Kubeflow experiment the runs are filed under."""
    store_uri: str = "s3://stainworth/store"
    """Store for acquisitions, models and the ledger, as seen from the cluster."""
    minio_endpoint: str = "minio-service.kubeflow:9000"
    """MinIO endpoint (host:port) as seen from the pods."""
    minio_secret: str = "stainworth-minio"
    """Kubernetes Secret holding the MinIO credentials (keys ``accesskey`` and ``secretkey``)."""
    accelerator_type: str = "nvidia.com/gpu"
    """Resource name of the GPU accelerator."""
    gpu_node_selector: dict[str, str] = Field(default_factory=lambda: {"stainworth.io/pool": "gpu"})
    """Node labels that select the GPU node pool."""
    gpu_toleration: Toleration | None = Field(default_factory=Toleration)
    """Toleration for the GPU pool's taint (None: the pool is not tainted)."""
    cpu_task: Resources = Field(default_factory=Resources)
    """Resources of CPU tasks (simulate, prepare, evaluate, report)."""
    gpu_task: Resources = Field(default_factory=lambda: Resources(cpu="8", memory="32Gi", gpus=1))
    """Resources of training tasks (stainers and task networks)."""
    requests: dict[str, Resources] = Field(default_factory=dict)
    """Resources of the tasks of one component, by its name (``train_task``, ``stitch``, ...), over
    ``gpu_task`` and ``cpu_task``: ``make plan`` writes them from its measured peaks (``requests.yaml``)."""
    scratch_pvc: str | None = Field(default=None, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    """PersistentVolumeClaim (ReadWriteMany) mounted at ``/scratch`` in every task, ``TMPDIR`` pointing
    there: room for mosaics and checkpoints beyond a node's ephemeral storage. None: the node's."""
    retries: int = Field(default=2, ge=0, le=10)
    """Retries of a failed task, with exponential backoff."""
    parallelism: int = Field(default=16, ge=1, le=1000)
    """Training units of one task that run at once (the ``parallelism`` of the pipeline's loop over the
    units): at most as many GPU tasks as the pool should hold for one run. kfp.local runs at most two
    loop iterations at a time whatever this says."""

    @field_validator("store_uri")
    @classmethod
    def _s3_store(cls, value: str) -> str:
        if not value.startswith("s3://"):
            raise ValueError(f"a cluster store must be s3://bucket/prefix; found '{value}'")
        return value
