"""Profiles: named, validated bundles of every stage's configuration and the cluster settings."""

from __future__ import annotations

from pydantic import Field, model_validator

from stainworth.contracts.base import StrictModel
from stainworth.contracts.cluster import ClusterConfig
from stainworth.contracts.prepare import PrepareConfig
from stainworth.contracts.retrain import RetrainConfig
from stainworth.contracts.simulate import SimulateConfig
from stainworth.contracts.stainer import StainConfig
from stainworth.contracts.task import TASKS, TasksConfig, is_virtual


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

    @model_validator(mode="after")
    def _modalities_of_the_stainers(self) -> Profile:
        """Default each sweep's modalities to those of the profile's stainers; check explicit ones.

        Default: label-free, ``stain.builtin``'s, ``stain.external``'s, fluorescence. Modalities given
        explicitly must name a stainer of the profile.
        """
        made = ["label_free", *self.stain.modalities, "fluorescence"]
        for task in TASKS:
            sweep = self.tasks.sweep(task)
            if "modalities" not in sweep.model_fields_set:
                sweep.modalities = made
                continue
            for k, modality in enumerate(sweep.modalities):
                if is_virtual(modality) and modality not in made:
                    raise ValueError(f"tasks.{task}.modalities[{k}]: '{modality}' is made by no stainer of this "
                                     f"profile; stain.builtin and stain.external make {made[1:-1] or 'none'}")
        return self
