"""Configuration of the virtual stainers (EfficientUNet, Pix2pixHD) and their training."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from stainworth.contracts.base import DeviceName, StrictModel
from stainworth.contracts.manifest import OutputManifest

Encoder = Literal["efficientnet-b0", "efficientnet-b1", "efficientnet-b2", "efficientnet-b3",
                  "efficientnet-b4", "efficientnet-b5", "efficientnet-b6", "efficientnet-b7"]


class EfficientUNetConfig(StrictModel):
    """U-Net with an EfficientNet encoder and the hybrid loss ``alpha * MSE + (1 - alpha) * (1 - SSIM)``."""

    encoder: Encoder = "efficientnet-b0"
    encoder_weights_uri: str | None = None
    """ImageNet encoder weights: a local file or a store URI; ``None`` trains from scratch."""
    alpha: float = Field(default=0.9, ge=0.0, le=1.0)
    alpha_grid: list[float] = Field(default_factory=list)
    """When not empty, one model per alpha; the one with the best validation SSIM is kept."""
    learning_rate: float = Field(default=3e-4, gt=0, le=1)
    norm: Literal["batch", "group"] = "batch"
    """Normalisation layers: the EfficientNet's batch normalisation, or group normalisation (8 groups,
    Wu and He 2018), which behaves the same in training and evaluation (docs/stainers.md); group
    normalisation cannot take ImageNet encoder weights, whose batch-norm statistics it lacks."""

    @field_validator("alpha_grid")
    @classmethod
    def _alphas_in_range(cls, values: list[float]) -> list[float]:
        if any(not 0.0 <= v <= 1.0 for v in values):
            raise ValueError(f"alphas {values}: every alpha must be in [0, 1]")
        return values

    @model_validator(mode="after")
    def _group_norm_without_imagenet_weights(self) -> EfficientUNetConfig:
        if self.norm == "group" and self.encoder_weights_uri:
            raise ValueError(f"norm 'group' with encoder_weights_uri {self.encoder_weights_uri!r}: ImageNet "
                             "weights carry batch-norm statistics; use norm 'batch' or train from scratch")
        return self


class Pix2pixHDConfig(StrictModel):
    """Coarse-to-fine conditional GAN (Wang et al. 2018) with feature matching (lambda_FM)."""

    generator: Literal["global", "local"] = "local"
    ngf: int = Field(default=32, ge=4, le=128)
    """Filters of the first generator layer (the local enhancer's; the global generator has twice as many)."""
    n_downsampling: int = Field(default=3, ge=1, le=5)
    n_blocks: int = Field(default=9, ge=1, le=18)
    n_blocks_local: int = Field(default=3, ge=1, le=9)
    ndf: int = Field(default=64, ge=4, le=128)
    n_layers_d: int = Field(default=3, ge=1, le=5)
    num_d: int = Field(default=3, ge=1, le=4)
    """Discriminators K, at scales 1, 1/2, 1/4..."""
    norm: Literal["instance", "batch"] = "instance"
    """Normalisation layers of generator and discriminators (the reference's ``--norm``)."""
    upsample: Literal["transposed", "resize"] = "transposed"
    """The generator's upsampling: the reference's stride-2 transposed convolutions, or nearest
    doubling followed by a convolution, which leaves no checkerboard (docs/stainers.md)."""
    lambda_fm: float = Field(default=10.0, ge=0.0)
    lambda_l1: float = Field(default=0.0, ge=0.0)
    """Weight of an L1 data term, pix2pix's (Isola et al. 2017); 0 keeps the study's Eq. 1."""
    learning_rate: float = Field(default=2e-4, gt=0, le=1)
    beta1: float = Field(default=0.5, ge=0.0, lt=1.0)


class StainerTrainConfig(StrictModel):
    """Training of one stainer on one dataset."""

    architecture: Literal["efficientunet", "pix2pixhd"] = "efficientunet"
    efficientunet: EfficientUNetConfig = Field(default_factory=EfficientUNetConfig)
    pix2pixhd: Pix2pixHDConfig = Field(default_factory=Pix2pixHDConfig)
    batch_size: int = Field(default=16, ge=1, le=1024)
    max_epochs: int = Field(default=100, ge=1, le=10000)
    patience: int = Field(default=10, ge=1)
    """Stop when the validation loss has not decreased for this many epochs."""
    min_improvement: float = Field(default=0.0, ge=0.0, lt=1.0)
    """Relative decrease of the validation loss that counts as progress for early stopping (0: any
    decrease, the study's rule); the best epoch is always the one with the lowest loss."""
    seed: int = 0
    max_train_items: int | None = Field(default=None, ge=1)
    """Use only the first n training items (``None``: all)."""
    max_val_items: int | None = Field(default=None, ge=1)
    bf16: bool = False
    """bfloat16 autocast on CPU (see ``make bench`` for its effect on SSIM)."""
    device: DeviceName = "auto"
    """Where it trains and stains (:mod:`stainworth.nets.devices`)."""
    augment: Literal["none", "flips", "dihedral"] = "dihedral"
    """Random symmetries of each training pair: the 8 rotations/reflections of the square, the 4
    flips, or none (for DIC, whose relief has a direction; see docs/stainers.md)."""


DatasetKind = Literal["segmentation", "classification"]
DATASET_KINDS: tuple[DatasetKind, ...] = ("segmentation", "classification")
Architecture = Literal["efficientunet", "pix2pixhd"]


class ApplyConfig(StrictModel):
    """Virtual staining of every split, and of whole mosaics."""

    batch_size: int = Field(default=16, ge=1, le=1024)
    tile_px: int = Field(default=512, ge=32, le=8192)
    """Whole-mosaic staining: tile side."""
    overlap_px: int = Field(default=64, ge=0, le=2048)
    """Whole-mosaic staining: overlap of neighbouring tiles (blended)."""
    panels: int = Field(default=6, ge=1, le=32)
    """Test images shown in the report's image panels."""


class StainConfig(StrictModel):
    """The ``stain`` pipeline: train both stainers on each dataset, stain every split, report image quality."""

    datasets: list[DatasetKind] = Field(default_factory=lambda: list(DATASET_KINDS), min_length=1)
    training: StainerTrainConfig = Field(default_factory=StainerTrainConfig)
    """Shared training settings; ``architecture`` is set per task."""
    training_by_dataset: dict[DatasetKind, dict[str, Any]] = Field(default_factory=dict)
    """Settings of one dataset's stainers that differ from ``training``, as a partial
    ``StainerTrainConfig`` merged field by field (e.g. ``{segmentation: {efficientunet: {norm:
    group}}}``): patches and single nuclei on a black canvas can ask for different choices."""
    apply: ApplyConfig = Field(default_factory=ApplyConfig)
    store_prefix: str = Field(default="stainers", pattern=r"^[A-Za-z0-9._/-]+$")
    """Store prefix the trained stainers and their checkpoints are published under."""

    @model_validator(mode="after")
    def _overrides_are_valid(self) -> StainConfig:
        for kind in self.training_by_dataset:
            self.training_for(kind)
        return self

    def training_for(self, kind: DatasetKind) -> StainerTrainConfig:
        """The training settings of ``kind``'s stainers: ``training`` with ``training_by_dataset[kind]`` merged in.

        Raises
        ------
        ValueError
            The merged settings are not a valid ``StainerTrainConfig`` (the message names the field).
        """
        override = self.training_by_dataset.get(kind)
        if not override:
            return self.training
        merged = _merged(self.training.model_dump(mode="json"), override)
        try:
            return StainerTrainConfig.model_validate(merged)
        except ValidationError as error:
            problem = error.errors()[0]
            where = ".".join(str(part) for part in problem["loc"])
            raise ValueError(f"training_by_dataset.{kind}.{where}: {problem['msg']}") from None


def _merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``override``'s values, nested dictionaries merged key by key."""
    out = dict(base)
    for key, value in override.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


class StainerManifest(OutputManifest):
    """A trained stainer (folder ``stainer/`` beside the manifest)."""

    architecture: Architecture
    dataset_kind: DatasetKind
    alpha: float | None = None
    """The EfficientUNet's MSE weight (the grid search's choice when there was one)."""
    alpha_search: dict[str, float] = Field(default_factory=dict)
    """Validation SSIM of each alpha tried."""
    stopped_early: bool = False
    device: str = "cpu"
    """The device it trained on (``cpu``, ``cuda:0``)."""
