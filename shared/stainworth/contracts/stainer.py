"""Configuration of the virtual stainers (EfficientUNet, Pix2pixHD) and their training."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from stainworth.contracts.base import DeviceName, StrictModel
from stainworth.contracts.manifest import OutputManifest
from stainworth.contracts.task import sweep_modalities

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
    padding: Literal["edge", "zeros"] = "edge"
    """The encoder's one-sided ("same", stride 2) paddings filled with the map's own content
    (``edge``), or smp's zeros, which leave a dark bottom-right corner (``zeros``; docs/stainers.md)."""

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
    plateau_factor: float = Field(default=1.0, gt=0.0, le=1.0)
    """Reduce-on-plateau: every optimiser's learning rate is multiplied by this after
    ``plateau_patience`` epochs without a lower validation loss (1: a constant rate, the study's;
    :mod:`stainworth.nets.schedule`)."""
    plateau_patience: int = Field(default=3, ge=1)
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
    average_symmetries: bool = True
    """Stain every split as the mean over the symmetries each stainer was trained with (its
    ``augment``: eight for ``dihedral``, none for ``none``), each output turned back; eight times the
    forward passes. Removes errors fixed in the network's own frame, such as a corner of every patch
    (:mod:`stainworth.stainers.symmetry`, docs/stainers.md). Whole mosaics are stained in one pass."""


STUDY_STAINERS: tuple[Architecture, ...] = ("efficientunet", "pix2pixhd")
"""The study's stainers (``stain.builtin`` by default)."""
MODEL_SUFFIXES: dict[str, str] = {".onnx": "onnx", ".pt": "torchscript", ".pts": "torchscript"}
"""Suffix of an external stainer's model file → its format (ONNX through onnxruntime, or TorchScript)."""
RESERVED_STAINER_NAMES = ("effunet", "pix2pixhd", "efficientunet")
"""External stainer names that would clash with the study's stainers and their modalities."""


class InputNormalisation(StrictModel):
    """How an external model's label-free input is scaled before it sees it.

    ``percentile``: ``(x - p_low) / (p_high - p_low)`` with the ``low`` and ``high`` percentiles of
    each label-free mosaic (the usual preprocessing of CARE, CSBDeep and Cytoland models);
    ``none``: the label-free values as stored.
    """

    kind: Literal["percentile", "none"] = "percentile"
    low: float = Field(default=1.0, ge=0, lt=100)
    high: float = Field(default=99.0, gt=0, le=100)

    @model_validator(mode="after")
    def _low_below_high(self) -> InputNormalisation:
        if self.low >= self.high:
            raise ValueError(f"low {self.low} must be below high {self.high}")
        return self


class ExternalStainerConfig(StrictModel):
    """A stainer trained elsewhere: its images (``images``) or its model file (``model``), one of the two.

    Its images become modality ``virtual_<name>`` in every sweep, table, figure and verdict.
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    """Lower-case letters, digits and ``_``; the modality is ``virtual_<name>``."""
    images: str | None = None
    """Folder or store URI with one virtually stained image per label-free tile of every acquisition,
    in the acquisitions' layout: ``<acquisition_id>/<the tile's label_free file>`` (any of .ome.tif,
    .tif, .tiff, .png in place of the suffix)."""
    channel: str | None = None
    """When ``images`` is an OME-Zarr HCS plate (e.g. VisCy's predictions): the label of the channel
    holding the virtual stain. Each tile ingested from a plate reads the position of the same path."""
    z: int | Literal["middle", "mean", "max"] = "middle"
    """When ``images`` is a plate: the z-plane (index, ``middle``) or the projection (``mean``, ``max``)."""
    model: str | None = None
    """File or store URI of the model: ``.onnx`` (run by onnxruntime) or a TorchScript ``.pt``; one
    channel in and one out, taking (B, 1, tile, tile) batches of ``stain.apply.tile_px``."""
    input_normalisation: InputNormalisation = Field(default_factory=InputNormalisation)
    """The model's input scaling (``model`` only)."""

    @model_validator(mode="after")
    def _one_source(self) -> ExternalStainerConfig:
        if (self.images is None) == (self.model is None):
            raise ValueError(f"external stainer '{self.name}': give exactly one of images (pre-computed "
                             "images) or model (a .onnx or TorchScript .pt file)")
        if self.name in RESERVED_STAINER_NAMES:
            raise ValueError(f"external stainer name '{self.name}': clashes with a built-in stainer "
                             f"({', '.join(RESERVED_STAINER_NAMES)}); choose another")
        if self.channel is not None and self.images is None:
            raise ValueError(f"external stainer '{self.name}': channel names a channel of an OME-Zarr plate of "
                             "images; it goes with images, not with model")
        if self.model is not None and self.model_format is None:
            raise ValueError(f"external stainer '{self.name}': model '{self.model}' has no known suffix; "
                             f"expected one of {', '.join(MODEL_SUFFIXES)}")
        return self

    @property
    def modality(self) -> str:
        """``virtual_<name>``."""
        return f"virtual_{self.name}"

    @property
    def model_format(self) -> str | None:
        """``onnx`` or ``torchscript`` from the model's suffix (None without a model or with another suffix)."""
        if self.model is None:
            return None
        suffix = "." + self.model.rsplit("/", 1)[-1].rpartition(".")[2].lower()
        return MODEL_SUFFIXES.get(suffix)


class StainConfig(StrictModel):
    """The ``stain`` pipeline: the study's stainers trained on each dataset and external ones, and image quality."""

    builtin: list[Architecture] = Field(default_factory=lambda: list(STUDY_STAINERS))
    """The study's stainers trained here; ``[]`` switches them off."""
    external: list[ExternalStainerConfig] = Field(default_factory=list)
    """Stainers trained elsewhere (:class:`ExternalStainerConfig`)."""
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
    def _stainers_distinct(self) -> StainConfig:
        if len(set(self.builtin)) != len(self.builtin):
            raise ValueError(f"builtin {self.builtin}: each stainer at most once")
        names = [external.name for external in self.external]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"external: name {repeated[0]!r} given {names.count(repeated[0])} times; "
                             "names must differ")
        return self

    @property
    def modalities(self) -> list[str]:
        """The virtual modalities these stainers make: the study's first, then the external ones in order."""
        return sweep_modalities(list(self.builtin), [external.name for external in self.external])[1:-1]

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
