"""Configuration of the ``prepare`` pipeline: acquisitions → stitched, registered, labelled mosaics → datasets."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from stainworth.contracts.base import StrictModel


class SplitCounts(StrictModel):
    """Number of examples in each split."""

    train: int = Field(ge=1)
    val: int = Field(ge=1)
    test: int = Field(ge=1)

    def as_dict(self) -> dict[str, int]:
        """``{"train": n, "val": n, "test": n}``."""
        return {"train": self.train, "val": self.val, "test": self.test}


class SourceConfig(StrictModel):
    """Which acquisitions to prepare."""

    store_prefix: str = Field(default="acquisitions", pattern=r"^[A-Za-z0-9._/-]+$")
    """Store prefix holding one folder per acquisition."""
    acquisition_ids: list[str] = Field(default_factory=list)
    """Acquisitions to use; empty: every complete acquisition under the prefix."""
    exclude_acquisition_ids: list[str] = Field(default_factory=list)
    """Left out when every complete acquisition is used (a retraining's holdout)."""
    ingest_spec: str | None = None
    """Path of an ingest YAML (a lab's own files); when set, it is ingested first and used alone."""
    phantom: bool = True
    """Without an ingest spec: render phantom acquisitions first (the profile's ``simulate``
    section) and use those; False: use what is already in the store."""


class StitchConfig(StrictModel):
    """Tile registration and mosaic assembly."""

    max_shift_px: int = Field(default=40, ge=0, le=2000)
    """Largest accepted deviation of a pairwise shift from the nominal stage positions."""
    block_px: int = Field(default=1024, ge=128, le=8192)
    """Output block size: memory is bounded by this and the tile size, not the mosaic area."""


class RegisterConfig(StrictModel):
    """Fluorescence onto label-free: SIFT + RANSAC affine."""

    method: Literal["affine", "translation"] = "affine"
    """``affine``: SIFT + RANSAC, refined at full resolution (the study's method).
    ``translation``: phase correlation only, for channels already co-registered up to a shift
    or modality pairs whose keypoints do not match (e.g. phase contrast against DAPI)."""
    moving_channel: str = Field(default="h3k27me3", pattern=r"^[a-z0-9_]+$")
    """Fluorescence channel matched against the label-free mosaic."""
    max_side_px: int = Field(default=2048, ge=256, le=16384)
    """Longest side of the downsampled mosaics of the coarse pass."""
    min_inliers: int = Field(default=12, ge=3, le=10000)
    """Fewest RANSAC inliers accepted; fewer stops the stage with the numbers."""
    max_residual_px: float = Field(default=2.0, gt=0, le=100)
    """Largest accepted RMS inlier residual (full-resolution pixels)."""


class LabelConfig(StrictModel):
    """Nuclei instance masks from the fluorescence nuclear marker."""

    method: Literal["classical", "cellpose"] = "classical"
    """Classical (smoothing, threshold, watershed) or Cellpose 3 with a user-supplied model."""
    channel: str = Field(default="lamin_a_c", pattern=r"^[a-z0-9_]+$")
    """Fluorescence channel the nuclei are segmented from."""
    marker: Literal["rim", "fill"] = "rim"
    """Rim (nuclear envelope, e.g. Lamin A/C) or filled (e.g. DAPI) marker."""
    model_uri: str | None = None
    """Cellpose model file or store URI (``cellpose`` only); nothing is downloaded."""
    nucleus_diameter_um: float = Field(default=10.0, gt=0, le=200)
    """Typical nucleus diameter."""
    min_area_um2: float = Field(default=15.0, ge=0, le=10000)
    """Regions smaller than this are removed in the clean-up."""
    block_px: int = Field(default=3072, ge=256, le=32768)
    """Fields larger than this are labelled in overlapping blocks of this side (bounded memory; each
    nucleus kept by the block holding its centroid, :mod:`stainworth.labels.blockwise`)."""

    @model_validator(mode="after")
    def _cellpose_needs_model(self) -> LabelConfig:
        if self.method == "cellpose" and not self.model_uri:
            raise ValueError("method 'cellpose' needs model_uri (a Cellpose 3 model file or store URI)")
        return self


class SegmentationDatasetConfig(StrictModel):
    """Random crops of label-free, fluorescence and binary mask, split by region."""

    patch_px: int = Field(default=256, ge=32, le=2048)
    counts: SplitCounts = Field(default_factory=lambda: SplitCounts(train=16000, val=1000, test=3000))
    channel: str = Field(default="lamin_a_c", pattern=r"^[a-z0-9_]+$")
    """Fluorescence channel of the dataset (the study: Lamin A/C)."""


class ClassificationDatasetConfig(StrictModel):
    """Single nuclei on a black canvas, control vs treated, balanced 1:1."""

    enabled: bool = True
    """Build it (needs control and treated acquisitions)."""
    canvas_px: int = Field(default=192, ge=16, le=1024)
    counts: SplitCounts = Field(default_factory=lambda: SplitCounts(train=10000, val=1000, test=1000))
    channel: str = Field(default="h3k27me3", pattern=r"^[a-z0-9_]+$")
    """Fluorescence channel of the dataset (the study: H3K27me3)."""
    iqr_k: float = Field(default=1.5, ge=0, le=10)
    """Interquartile-range factor of the outlier removal."""


class ExtractConfig(StrictModel):
    """The two task datasets."""

    seed: int = Field(default=0, ge=0)
    segmentation: SegmentationDatasetConfig = Field(default_factory=SegmentationDatasetConfig)
    classification: ClassificationDatasetConfig = Field(default_factory=ClassificationDatasetConfig)
    store_prefix: str = Field(default="datasets", pattern=r"^[A-Za-z0-9._/-]+$")
    """Store prefix the datasets are published under."""


PrepareGrouping = Literal["acquisition", "slots"]
"""Acquisitions per stitch → register → label branch: ``acquisition`` one branch each (a cluster's
fan-out, every acquisition its own tasks), ``slots`` dealt to the local runner's slots."""


class PrepareConfig(StrictModel):
    """Every stage of ``prepare``."""

    source: SourceConfig = Field(default_factory=SourceConfig)
    grouping: PrepareGrouping | None = None
    """Acquisitions per branch of the prepare fan-out (:data:`PrepareGrouping`); None: ``slots`` in a
    local run, ``acquisition`` on a cluster."""
    stitch: StitchConfig = Field(default_factory=StitchConfig)
    registration: RegisterConfig = Field(default_factory=RegisterConfig)
    label: LabelConfig = Field(default_factory=LabelConfig)
    extract: ExtractConfig = Field(default_factory=ExtractConfig)
