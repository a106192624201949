"""Stainers trained elsewhere: a model file run on whole mosaics, or a lab's pre-computed images.

A **model file** is ONNX (run by onnxruntime on the CPU, or CUDA where its provider is installed)
or TorchScript (``torch.jit.load``: TorchScript's own restricted unpickler, which runs no Python
code from the file). One channel in, one out; it sees label-free tiles scaled by its declared
:class:`~stainworth.contracts.stainer.InputNormalisation` and is applied with the same
whole-mosaic tiling, overlap and blending as the study's stainers
(:func:`~stainworth.stainers.tiling.stain_mosaic`: bounded memory at any mosaic size).

**Pre-computed images** (:mod:`stainworth.stainers.external_images`) are one image per
label-free tile, in the label-free tile's frame; they are placed at the stitched tile positions
and blended exactly like the label-free tiles, so the virtual mosaic is in the frame of the
label-free mosaic and of every dataset cut from it.

Either way the virtual mosaic is in the stainer's own intensity units; the virtual datasets
(:func:`stainworth.datasets.recut.recut_dataset`) map them onto the real fluorescence's scale.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from stainworth.contracts.stainer import InputNormalisation
from stainworth.errors import InputDataError

PERCENTILE_SAMPLE = 1_000_000
"""Most label-free pixels the input percentiles of one mosaic are computed from (a regular grid)."""


class ExternalModel:
    """A stainer's model file as a numpy function: (B, 1, H, W) float32 in, (B, 1, H, W) float32 out."""

    def __init__(self, run: Callable[[np.ndarray], np.ndarray], where: str, model_format: str) -> None:
        self._run, self.where, self.format = run, where, model_format

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """The model's output for ``batch``; one line naming the model when it fails or answers wrongly."""
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        try:
            out = np.asarray(self._run(batch))
        except Exception as error:  # noqa: BLE001 - any runtime failure of a user's model is bad input
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise InputDataError(f"{self.where}: the model failed on a batch of shape {batch.shape}: {first}") from None
        if out.shape != batch.shape:
            raise InputDataError(f"{self.where}: the model returned shape {out.shape} for input {batch.shape}; "
                                 "expected one output channel of the input's size")
        return out.astype(np.float32, copy=False)


def load_external_model(path: str | Path, model_format: str, *, device: str = "cpu", where: str = "") -> ExternalModel:
    """Open an ONNX or TorchScript model file for inference.

    Parameters
    ----------
    path
        The local model file.
    model_format
        ``onnx`` or ``torchscript``.
    device
        ``cpu`` or ``cuda[:k]``: where the model runs (ONNX uses CUDA when onnxruntime has its provider).
    where
        How messages name the model (e.g. ``stain.external[0].model``).

    Raises
    ------
    InputDataError
        The file is not a model of that format, or does not take and return one channel.
    """
    where = where or str(path)
    if model_format == "onnx":
        return _onnx(Path(path), device, where)
    if model_format == "torchscript":
        return _torchscript(Path(path), device, where)
    raise InputDataError(f"{where}: unknown model format '{model_format}'; expected onnx or torchscript")


def _onnx(path: Path, device: str, where: str) -> ExternalModel:
    import onnxruntime

    providers = ["CPUExecutionProvider"]
    if device.startswith("cuda") and "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    try:
        session = onnxruntime.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as error:  # noqa: BLE001 - onnxruntime raises its own error types for unreadable files
        raise InputDataError(f"{where}: {path.name} is not a readable ONNX model "
                             f"({str(error).strip().splitlines()[0]})") from None
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or len(outputs) != 1:
        raise InputDataError(f"{where}: the ONNX model has {len(inputs)} inputs and {len(outputs)} outputs; "
                             "expected one of each")
    for kind, node in (("input", inputs[0]), ("output", outputs[0])):
        shape = list(node.shape)
        if len(shape) != 4 or (isinstance(shape[1], int) and shape[1] != 1):
            raise InputDataError(f"{where}: the ONNX model's {kind} '{node.name}' has shape {shape}; "
                                 "expected (batch, 1, height, width)")
    name = inputs[0].name
    return ExternalModel(lambda batch: session.run(None, {name: batch})[0], where, "onnx")


def _torchscript(path: Path, device: str, where: str) -> ExternalModel:
    import torch

    target = torch.device(device)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch 2.14 marks TorchScript deprecated; still loads
            module = torch.jit.load(str(path), map_location=target).eval()
    except Exception as error:  # noqa: BLE001 - torch raises RuntimeError or its own types for non-TorchScript files
        raise InputDataError(f"{where}: {path.name} is not a TorchScript model "
                             f"({str(error).strip().splitlines()[0]})") from None

    def run(batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = module(torch.from_numpy(batch).to(target))
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"returned {type(out).__name__}, not a tensor")
        return out.float().cpu().numpy()

    return ExternalModel(run, where, "torchscript")


def check_external_model(model: ExternalModel, tile: int) -> None:
    """Run ``model`` on one (1, 1, tile, tile) ramp; one line if it fails, changes the shape or answers NaN."""
    ramp = np.linspace(0.0, 1.0, tile * tile, dtype=np.float32).reshape(1, 1, tile, tile)
    out = model(ramp)
    if not np.isfinite(out).all():
        raise InputDataError(f"{model.where}: the model returned non-finite values on a {tile} x {tile} tile")


def input_scaling(source: Any, normalisation: InputNormalisation) -> tuple[float, float]:
    """``(offset, scale)`` so that ``(x - offset) / scale`` is the model's input for the mosaic ``source``.

    Percentiles from a regular grid of at most :data:`PERCENTILE_SAMPLE` pixels of the (H, W) mosaic
    (read in bands of rows, so a large zarr mosaic is never in memory whole).
    """
    if normalisation.kind == "none":
        return 0.0, 1.0
    height, width = (int(v) for v in source.shape[-2:])
    if height == 0 or width == 0:
        raise InputDataError(f"input_scaling: an empty mosaic of shape {(height, width)}")
    step = max(1, int(np.ceil(np.sqrt(height * width / PERCENTILE_SAMPLE))))
    band = step * max(1, 256 // step)
    pixels = np.concatenate([np.asarray(source[y0:min(height, y0 + band)], dtype=np.float64)[::step, ::step].ravel()
                             for y0 in range(0, height, band)])
    low, high = np.percentile(pixels, [normalisation.low, normalisation.high])
    return float(low), float(high - low) if high > low else 1.0
