"""Manifests of the per-field stages of ``prepare`` (stitch, register, label) and of datasets."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from stainworth.contracts.acquisition import Condition, LabelFreeModality
from stainworth.contracts.base import StrictModel
from stainworth.contracts.manifest import OutputManifest


class FieldInfo(StrictModel):
    """One field of view (one acquisition) as it moves through prepare."""

    acquisition_id: str
    condition: Condition | None
    pixel_size_um: float = Field(gt=0)
    label_free_modality: LabelFreeModality
    fluorescence_channels: list[str]
    """Names of the fluorescence channels, in the order of the (C, Y, X) arrays."""
    shape_yx: tuple[int, int]
    """Size of the label-free mosaic (the frame everything is registered to)."""
    has_truth: bool = False
    """Whether phantom ground truth (nuclei labels in this frame) is stored beside it."""
    metrics: dict[str, float] = Field(default_factory=dict)
    """This field's measured numbers (residuals, errors against ground truth, counts)."""
    lineage: str = ""
    """Hash of what made the field: the acquisition's content and every prepare stage's settings
    so far (the key under which prepared fields are reused, :mod:`stainworth.prepared.field_cache`)."""


class FieldsManifest(OutputManifest):
    """Output of stitch, register or label: one folder per field under ``fields/``."""

    fields: dict[str, FieldInfo] = Field(default_factory=dict)


class DatasetManifest(OutputManifest):
    """A task dataset (zarr group beside the manifest)."""

    kind: Literal["segmentation", "classification"]
    splits: dict[str, int]
    """Items per split."""
    sources: list[str]
    """Acquisitions the items were cut from."""
    fluorescence_channel: str
    label_free_modality: str
    pixel_size_um: float
    seed: int
    normalisation: dict[str, object] = Field(default_factory=dict)
    """Normalisation statistics of the training split."""
