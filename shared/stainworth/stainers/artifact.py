"""A trained stainer on disk: generator weights (safetensors), configuration and normalisation.

Layout of a stainer folder::

    model.safetensors    generator weights of the best validation epoch
    stainer.json         architecture and training configuration, both normalisers, alpha,
                         best epoch, parameter count, encoder-weight provenance

:func:`load_stainer` rebuilds the generator from ``stainer.json`` and loads the weights; nothing is
unpickled. :meth:`TrainedStainer.predict` applies the input normalisation, the generator and the
inverse output normalisation, so it maps label-free intensities to fluorescence intensities.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import ValidationError
from safetensors import SafetensorError
from safetensors.torch import load_file

from stainworth.contracts.stainer import StainerTrainConfig
from stainworth.errors import InputDataError
from stainworth.nets.devices import autocast, module_device, resolve_device
from stainworth.nets.normalise import PercentileNormaliser
from stainworth.stainers.adapters import build_stainer
from stainworth.stainers.batches import Augment
from stainworth.stainers.symmetry import symmetry_average

WEIGHTS = "model.safetensors"
DESCRIPTION = "stainer.json"
FORMAT = "stainworth-stainer/2"
ZERO_PADDED_FORMAT = "stainworth-stainer/1"
"""Stainers written before the EfficientUNet's ``padding`` setting: read as ``padding="zeros"``."""
FOLDER = "stainer"
"""Name of the stainer folder inside a ``train_stainer`` output (beside its ``manifest.json``)."""


@dataclass
class TrainedStainer:
    """A generator with the normalisation it was trained with."""

    generator: torch.nn.Module
    config: StainerTrainConfig
    input_normaliser: PercentileNormaliser
    output_normaliser: PercentileNormaliser
    info: dict[str, Any]
    average: Augment = "none"
    """Symmetries the output is averaged over (:mod:`stainworth.stainers.symmetry`); ``"none"``: one pass."""

    def averaging_its_training_symmetries(self) -> TrainedStainer:
        """A copy of this stainer, its output averaged over the symmetries it was trained with (``config.augment``)."""
        return replace(self, average=self.config.augment)

    def predict_normalised(self, batch: np.ndarray) -> np.ndarray:
        """Generator output for a normalised (B, 1, H, W) float32 batch (for tiled staining).

        Averaged over :attr:`average`'s symmetries when that is not ``"none"``.
        """
        return symmetry_average(self._forward, batch, self.average)

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        self.generator.eval()
        device = module_device(self.generator)
        with torch.no_grad(), autocast(self.config.bf16, device):
            inputs = torch.from_numpy(np.ascontiguousarray(batch, np.float32)).to(device)
            return self.generator(inputs).float().cpu().numpy()

    def predict(self, label_free: np.ndarray, *, batch_size: int = 16) -> np.ndarray:
        """Virtual fluorescence of (n, H, W) or (H, W) label-free images, on the fluorescence scale."""
        images = np.asarray(label_free, dtype=np.float32)
        single = images.ndim == 2
        images = images[None] if single else images
        out = np.empty_like(images)
        for start in range(0, len(images), batch_size):
            batch = self.input_normaliser.apply(images[start:start + batch_size])[:, None]
            out[start:start + batch_size] = self.output_normaliser.invert(self.predict_normalised(batch)[:, 0])
        return out[0] if single else out

    def stain_mosaic(self, source: Any, out: Any, *, tile: int = 512, overlap: int = 64, batch: int = 4,
                     progress: Callable[[str], None] | None = None) -> None:
        """Stain a label-free mosaic of any size into ``out`` by overlapping, blended tiles.

        ``source`` and ``out`` are (H, W) arrays (numpy or zarr; ``out`` of a float dtype), read and
        written by windows, so memory does not grow with the mosaic (see
        :func:`stainworth.stainers.tiling.stain_mosaic`). The normalisations are affine and the
        blending weights sum to one, so staining tile by tile on the fluorescence scale equals
        blending first and mapping back after.
        """
        from stainworth.stainers.tiling import stain_mosaic

        def predict(tiles: np.ndarray) -> np.ndarray:
            return self.output_normaliser.invert(self.predict_normalised(self.input_normaliser.apply(tiles)))

        stain_mosaic(predict, source, out, tile=tile, overlap=overlap, batch=batch, progress=progress)


def save_stainer(folder: str | Path, best_weights: str | Path, config: StainerTrainConfig,
                 normalisers: tuple[PercentileNormaliser, PercentileNormaliser], info: dict[str, Any]) -> Path:
    """Write a stainer folder from the best-epoch weights file of :func:`~stainworth.stainers.fit.fit`."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(best_weights, target / WEIGHTS)
    description = {"format": FORMAT, "config": config.model_dump(mode="json"),
                   "input_normaliser": normalisers[0].to_dict(), "output_normaliser": normalisers[1].to_dict(),
                   "info": info}
    temporary = target / (DESCRIPTION + ".tmp")
    temporary.write_text(json.dumps(description, indent=2, sort_keys=True, default=float))
    os.replace(temporary, target / DESCRIPTION)
    return target


def load_stainer(folder: str | Path, *, device: torch.device | str | None = None) -> TrainedStainer:
    """Rebuild a stainer from its folder (or from the ``train_stainer`` output holding it), on ``device``.

    ``device`` ``None``: the one its configuration's ``device`` names on this machine.

    Raises
    ------
    InputDataError
        When the folder lacks either file, is of another format, or the weights do not fit.
    """
    source = Path(folder)
    if not (source / DESCRIPTION).is_file() and (source / FOLDER / DESCRIPTION).is_file():
        source = source / FOLDER  # a train_stainer output
    for name in (DESCRIPTION, WEIGHTS):
        if not (source / name).is_file():
            raise InputDataError(f"{source}: no {name}; expected a stainer folder written by train_stainer")
    try:
        description = json.loads((source / DESCRIPTION).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputDataError(f"{source / DESCRIPTION}: not JSON ({error}); expected a stainer description "
                             "written by train_stainer") from None
    if not isinstance(description, dict) or description.get("format") not in (FORMAT, ZERO_PADDED_FORMAT):
        found = description.get("format") if isinstance(description, dict) else type(description).__name__
        raise InputDataError(f"{source / DESCRIPTION}: format {found!r}; expected '{FORMAT}' or '{ZERO_PADDED_FORMAT}'")
    settings = description.get("config")
    if description["format"] == ZERO_PADDED_FORMAT and isinstance(settings, dict) \
            and isinstance(settings.get("efficientunet"), dict):
        settings = {**settings, "efficientunet": {"padding": "zeros", **settings["efficientunet"]}}
    try:
        config = StainerTrainConfig.model_validate(settings)
    except ValidationError as error:
        problem = error.errors()[0]
        raise InputDataError(f"{source / DESCRIPTION}: config.{'.'.join(map(str, problem['loc']))}: {problem['msg']}; "
                             "expected the stainer settings train_stainer wrote") from None
    generator = build_stainer(config).generator
    try:
        generator.load_state_dict(load_file(str(source / WEIGHTS)))
    except (RuntimeError, OSError, SafetensorError) as error:
        raise InputDataError(f"{source / WEIGHTS}: does not fit a {config.architecture} generator "
                             f"({str(error).splitlines()[0]})") from None
    generator.to(resolve_device(config.device) if device is None else device).eval()
    return TrainedStainer(generator=generator, config=config,
                          input_normaliser=PercentileNormaliser.from_dict(description["input_normaliser"]),
                          output_normaliser=PercentileNormaliser.from_dict(description["output_normaliser"]),
                          info=dict(description.get("info", {})))
