"""Retraining on new acquisitions: its configuration, the ledger, and the model registry's records.

Store layout (keys relative to the store root):

- ``<acquisitions_prefix>/<id>/``: one folder per acquisition, complete when its manifest exists;
- ``<ledger_key>``: the :class:`Ledger`, what has been processed, by content hash;
- ``<models_prefix>/<dataset>/<stainer>/v<N>/``: published stainer versions (:class:`ModelVersion`
  as the manifest), ``<models_prefix>/<dataset>/<stainer>/current.json`` the promoted one
  (:class:`CurrentModel`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from stainworth.contracts.base import StrictModel
from stainworth.contracts.manifest import OutputManifest

CAPACITY_PIPELINES = ("seg_capacity", "seg_learnable", "cls_capacity", "cls_learnable")
"""Pipelines a retraining may re-run after the stainers (their sweeps, on the new stainers)."""
PromoteMetric = Literal["ssim", "pearson", "pearson_nucleus", "psnr"]


class RetrainConfig(StrictModel):
    """What ``retrain`` watches, where it records and publishes, and when a new stainer is promoted."""

    acquisitions_prefix: str = Field(default="acquisitions", pattern=r"^[A-Za-z0-9._/-]+$")
    """Store prefix new acquisitions land under (one folder with its manifest each)."""
    ledger_key: str = Field(default="ledger/ledger.json", pattern=r"^[A-Za-z0-9._/-]+\.json$")
    """Store key of the ledger."""
    models_prefix: str = Field(default="models", pattern=r"^[A-Za-z0-9._/-]+$")
    """Store prefix of the model registry."""
    holdout_acquisitions: list[str] = Field(default_factory=list)
    """Acquisitions kept out of training and used, always the same, to compare a new stainer with
    the current one (their datasets' test splits). Required before a retrain can run."""
    promote_metric: PromoteMetric = "ssim"
    """Holdout mean a new version must not fall below (the current version's, minus ``tolerance``)."""
    tolerance: float = Field(default=0.0, ge=0.0, le=1.0)
    """Allowed shortfall on ``promote_metric`` (0: not worse at all)."""
    evaluate: list[str] = Field(default_factory=lambda: ["cls_capacity"])
    """Capacity pipelines re-run on the new stainers (any of ``CAPACITY_PIPELINES``; empty: none)."""

    @field_validator("evaluate")
    @classmethod
    def _known_pipelines(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in CAPACITY_PIPELINES]
        if unknown:
            raise ValueError(f"unknown pipelines {unknown}; expected some of {list(CAPACITY_PIPELINES)}")
        return value

    @field_validator("holdout_acquisitions")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"holdout acquisitions repeat: {value}")
        return value


class LedgerRun(StrictModel):
    """One retraining that finished and advanced the ledger."""

    run: str
    """The run's name (the pipeline run, or the watcher's)."""
    finished_at: str
    """UTC time, ISO 8601."""
    acquisitions: dict[str, str]
    """Acquisitions it processed: id → content hash."""
    models: dict[str, str] = Field(default_factory=dict)
    """Published versions: ``<dataset>/<stainer>`` → ``v<N>`` (promoted or not)."""
    promoted: dict[str, bool] = Field(default_factory=dict)
    """Whether each published version became current."""


class Ledger(StrictModel):
    """What has been processed, by content hash; advanced last by a retraining that finished."""

    schema_version: Literal["1"] = "1"
    processed: dict[str, str] = Field(default_factory=dict)
    """Acquisition id → content hash of the acquisition as it was processed."""
    runs: list[LedgerRun] = Field(default_factory=list)


class Detection(StrictModel):
    """What ``detect`` found: the acquisitions to process now, against the ledger it read."""

    pending: dict[str, str]
    """New or changed acquisitions (id → content hash), holdout excluded."""
    training: list[str]
    """Every complete acquisition a retraining trains on (holdout excluded), sorted."""
    holdout: list[str]
    """The holdout acquisitions (all complete in the store)."""
    ledger_processed: dict[str, str]
    """The ledger's ``processed`` when it was read (the base the ledger is advanced from)."""


class ModelVersion(OutputManifest):
    """Manifest of one published stainer version (the trained stainer's folder beside it)."""

    dataset: str
    architecture: str
    version: int = Field(ge=1)
    data_key: str
    """Hash of what the version was trained from (training acquisitions' hashes and the stain
    configuration); publishing the same data again reuses this version instead of adding one."""
    holdout: dict[str, float] = Field(default_factory=dict)
    """Holdout means (``ssim``, ``pearson``, ...) measured when it was published."""


class CurrentModel(StrictModel):
    """``current.json`` of one stainer in the registry: the promoted version."""

    version: int = Field(ge=1)
    key: str
    """Store folder of the version."""
    holdout: dict[str, float]
    """Its holdout means when it was promoted."""
    promoted_at: str
