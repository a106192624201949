"""Profiles: named, validated bundles of every stage's configuration and the cluster settings."""

from __future__ import annotations

from pydantic import Field

from stainworth.contracts.base import StrictModel
from stainworth.contracts.cluster import ClusterConfig
from stainworth.contracts.prepare import PrepareConfig
from stainworth.contracts.retrain import RetrainConfig
from stainworth.contracts.simulate import SimulateConfig
from stainworth.contracts.stainer import StainConfig
from stainworth.contracts.task import TasksConfig


class Profile(StrictModel):
    """A run profile (``smoke``, ``mini``, ``paper`` or a user's own file)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    """Profile name, recorded with every run."""
    description: str = ""
    """What the profile is for."""
    simulate: SimulateConfig = Field(default_factory=SimulateConfig)
    """Phantom acquisitions."""
    prepare: PrepareConfig = Field(default_factory=PrepareConfig)
    """Acquisitions to datasets: ingest, stitch, register, label, extract."""
    stain: StainConfig = Field(default_factory=StainConfig)
    """Virtual stainers: training, virtual datasets, image-quality report."""
    tasks: TasksConfig = Field(default_factory=TasksConfig)
    """Task networks: capacity and learnable-capacity sweeps of both tasks."""
    retrain: RetrainConfig = Field(default_factory=RetrainConfig)
    """Retraining on new acquisitions: ledger, holdout, model registry, promotion."""
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
    """Cluster-only settings (ignored by local runs)."""
