"""Penultimate decoder activations of segmentation networks (Fig. 7) and predicted-mask panels (Figs. 5, 6).

The study (Sengupta et al. 2025, Sec. 2.2, Fig. 7) shows "the mean feature maps of the
penultimate decoder layer" of UNet2, EfficientUNet0 and EfficientUNet7 for each input modality:
where the network's last features respond (whole cells or nuclei).

Penultimate decoder layer. The feature map the output layer turns into the logit map:

- :class:`~stainworth.tasks.unet.ShallowUNet` (``unet1``-``unet3``): the output of the last
  decoder block (transposed convolution, ReLU, concatenation with the first encoder block's
  skip; ``2 w_1 = 32`` channels), the input of the 1x1 head (:meth:`ShallowUNet.decode
  <stainworth.tasks.unet.ShallowUNet.decode>`);
- ``segmentation_models_pytorch.Unet`` (``efficientunet0``, ``efficientunet7``): the decoder's
  output (the last decoder block, convolution-batch-norm-ReLU, 16 channels), the input of
  ``segmentation_head`` (a 3x3 convolution in smp, not a 1x1 one);
- either wrapped in :class:`~stainworth.nets.padding.PadToMultiple`, as
  :func:`~stainworth.tasks.build_task_net` returns them: the input is padded as in the forward
  pass and the features are cropped back to the input's size.

Both end in a ReLU, so the activations are non-negative. The mean activation map of a set of
images is the mean of these features over images and channels, one value per pixel, computed in
evaluation mode (batch-norm running statistics).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import segmentation_models_pytorch as smp
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import nn

from stainworth.analysis.inference import batches, check_batch_size, evaluation, image_stack
from stainworth.errors import ConfigError, InputDataError
from stainworth.nets.padding import PadToMultiple, crop_back, pad_to_multiple
from stainworth.tasks.unet import ShallowUNet

SUPPORTED = "a ShallowUNet (unet1-3) or an smp Unet (efficientunet0/7), optionally wrapped in PadToMultiple"
"""What :func:`decoder_features` accepts, for error messages."""

CELL_INCHES = 2.2
"""Side of one image in the PNG panels, in inches (at 100 dpi)."""


def _check_divisible(x: torch.Tensor, multiple: int, name: str) -> None:
    height, width = int(x.shape[-2]), int(x.shape[-1])
    if height % multiple or width % multiple:
        raise InputDataError(f"decoder features: found a {height}x{width} input for a bare {name}; expected sides "
                             f"divisible by {multiple} (wrap the network in PadToMultiple for any size)")


def _unwrapped_features(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    if isinstance(net, ShallowUNet):
        _check_divisible(x, 2**net.depth, "ShallowUNet")
        return net.decode(x)
    if isinstance(net, smp.Unet):
        _check_divisible(x, int(net.encoder.output_stride), "smp Unet")
        return net.decoder(net.encoder(x))  # as smp's SegmentationModel.forward, before segmentation_head
    raise ConfigError(f"decoder features: network {type(net).__name__} is not supported; expected {SUPPORTED}")


def has_decoder_features(net: nn.Module) -> bool:
    """Whether :func:`decoder_features` knows ``net``'s penultimate decoder layer."""
    inner = net.net if isinstance(net, PadToMultiple) else net
    return isinstance(inner, ShallowUNet | smp.Unet)


def decoder_features(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Penultimate decoder activations of a segmentation network (the output layer's input).

    Parameters
    ----------
    net : torch.nn.Module
        A :class:`~stainworth.tasks.unet.ShallowUNet` or ``segmentation_models_pytorch.Unet``,
        bare or wrapped in :class:`~stainworth.nets.padding.PadToMultiple` (any input size).
        Run as it is: put it in evaluation mode first (as :func:`mean_activation_map` does).
    x : torch.Tensor
        (N, C, H, W) images; a bare network needs sides divisible by its downsampling factor.

    Returns
    -------
    torch.Tensor
        (N, F, H, W) features (F = 32 for the study's U-Nets, 16 for smp's default decoder).

    Raises
    ------
    ConfigError
        Any other kind of network.
    InputDataError
        An input that is not 4-D, or sides a bare network cannot take.
    """
    if x.ndim != 4:
        raise InputDataError(f"decoder features: found input shape {tuple(x.shape)}; expected (N, C, H, W)")
    if isinstance(net, PadToMultiple):
        padded, pads = pad_to_multiple(x, net.multiple)
        return crop_back(_unwrapped_features(net.net, padded), pads)
    return _unwrapped_features(net, x)


def mean_activation_map(net: nn.Module, images: np.ndarray, batch_size: int = 8) -> np.ndarray:
    """Mean penultimate decoder activation over images and channels: one value per pixel (the study's Fig. 7).

    Parameters
    ----------
    net : torch.nn.Module
        A segmentation network accepted by :func:`decoder_features`; run in evaluation mode
        without gradients, its training flags are restored afterwards.
    images : numpy.ndarray
        (N, H, W) or (N, C, H, W) images of one size, as the network was trained on.
    batch_size : int, optional
        Images per forward pass (default 8); the result does not depend on it.

    Returns
    -------
    numpy.ndarray
        (H, W) float64 map, the input's size.

    Raises
    ------
    ConfigError
        An unsupported network or a batch size below 1.
    InputDataError
        Images that are not a non-empty, finite (N, H, W) or (N, C, H, W) stack.
    """
    batch_size, stack = check_batch_size(batch_size), image_stack(images)
    total = np.zeros(stack.shape[-2:], dtype=np.float64)
    channels = 0
    with evaluation(net):
        for batch in batches(net, stack, batch_size):
            features = decoder_features(net, batch)
            total += features.double().sum(dim=(0, 1)).cpu().numpy()
            channels = int(features.shape[1])
    return total / (stack.shape[0] * channels)


def _check_map(array: np.ndarray) -> np.ndarray:
    values = np.asarray(array)
    if values.dtype.kind not in "biuf" or values.ndim != 2 or 0 in values.shape:
        raise InputDataError(f"feature map: found shape {values.shape} of dtype {values.dtype}; expected a "
                             "non-empty numeric (H, W) array")
    if not np.isfinite(values).all():
        raise InputDataError(f"feature map: found {np.count_nonzero(~np.isfinite(values))} NaN or infinite values; "
                             "expected finite values")
    return values.astype(np.float64, copy=False)


def _save(figure: Figure, path: str | Path) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure)
    figure.savefig(target, format="png", dpi=100)
    return target


def save_feature_map_png(array: np.ndarray, path: str | Path, title: str, *, cmap: str = "viridis") -> Path:
    """Write an (H, W) map (e.g. from :func:`mean_activation_map`) as a PNG with a colour bar.

    Parameters
    ----------
    array : numpy.ndarray
        (H, W) finite values.
    path : str or pathlib.Path
        PNG file to write; missing parent folders are created.
    title : str
        Title above the map.
    cmap : str, optional
        Matplotlib colour map (default ``"viridis"``).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    InputDataError
        An array that is not a non-empty finite (H, W) array.
    """
    values = _check_map(array)
    side = 1.5 * CELL_INCHES
    figure = Figure(figsize=(side + 1.3, side * values.shape[0] / values.shape[1] + 0.5))  # colour bar, title
    axis = figure.add_subplot()
    shown = axis.imshow(values, cmap=cmap, interpolation="nearest")
    figure.colorbar(shown, ax=axis, label="mean activation")
    axis.set_title(title, fontsize=9)
    axis.set_xticks([])
    axis.set_yticks([])
    figure.tight_layout()
    return _save(figure, path)


def _check_panel_stack(name: str, values: np.ndarray, shape: tuple[int, ...] | None,
                       unit_range: bool) -> np.ndarray:
    array = np.asarray(values)
    expected = "(rows, H, W)" if shape is None else f"{shape} as the images"
    if array.dtype.kind not in "biuf" or array.ndim != 3 or 0 in array.shape or (shape and array.shape != shape):
        raise InputDataError(f"{name}: found shape {array.shape} of dtype {array.dtype}; expected a non-empty "
                             f"numeric stack of shape {expected}")
    array = array.astype(np.float64, copy=False)
    if not np.isfinite(array).all():
        raise InputDataError(f"{name}: found NaN or infinite values; expected finite values")
    if unit_range and (array.min() < 0 or array.max() > 1):
        raise InputDataError(f"{name}: found values in [{array.min():.3g}, {array.max():.3g}]; expected masks or "
                             "probabilities in [0, 1] (apply the sigmoid to logits)")
    return array


def _display_range(image: np.ndarray) -> tuple[float, float]:
    """1st to 99.8th percentile of ``image``; a unit range above a constant image."""
    low, high = (float(v) for v in np.percentile(image, [1.0, 99.8]))
    return (low, high) if high > low else (low, low + 1.0)


def _draw(axis: Any, image: np.ndarray, limits: tuple[float, float], title: str | None) -> None:
    axis.imshow(image, cmap="gray", vmin=limits[0], vmax=limits[1], interpolation="nearest")
    axis.set_xticks([])
    axis.set_yticks([])
    if title is not None:
        axis.set_title(title, fontsize=9)


def mask_panel_png(images: np.ndarray, truth: np.ndarray, predictions: Mapping[str, np.ndarray], path: str | Path,
                   *, row_labels: Sequence[str] | None = None, title: str | None = None) -> Path:
    """Write a panel of predicted masks (the study's Figs. 5 and 6) as a PNG.

    One row per example image; columns: the input (grey, 1st-99.8th percentile of that image),
    the true mask, then one column per prediction in the order of ``predictions`` (e.g. networks
    of increasing capacity, or one network trained on increasing numbers of images).

    Parameters
    ----------
    images : numpy.ndarray
        (rows, H, W) input images.
    truth : numpy.ndarray
        (rows, H, W) true masks, values in [0, 1].
    predictions : Mapping of str to numpy.ndarray
        Column title -> (rows, H, W) predicted masks or probabilities in [0, 1].
    path : str or pathlib.Path
        PNG file to write; missing parent folders are created.
    row_labels : Sequence of str, optional
        One label per row (e.g. the modality), shown left of the row.
    title : str, optional
        Title above the panel.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    InputDataError
        Stacks that are not non-empty, finite and of the images' shape, masks outside [0, 1], or
        a number of row labels other than the number of rows.
    """
    stack = _check_panel_stack("images", images, None, unit_range=False)
    columns = [("truth", _check_panel_stack("truth", truth, stack.shape, unit_range=True))]
    columns += [(name, _check_panel_stack(f"prediction '{name}'", values, stack.shape, unit_range=True))
                for name, values in predictions.items()]
    if row_labels is not None and len(row_labels) != stack.shape[0]:
        raise InputDataError(f"row_labels: found {len(row_labels)} labels for {stack.shape[0]} rows; expected one "
                             "label per row")
    rows, width = stack.shape[0], 1 + len(columns)
    figure = Figure(figsize=(CELL_INCHES * width, CELL_INCHES * rows + (0.4 if title else 0)))
    axes = figure.subplots(rows, width, squeeze=False)
    for row in range(rows):
        _draw(axes[row, 0], stack[row], _display_range(stack[row]), "input" if row == 0 else None)
        if row_labels is not None:
            axes[row, 0].set_ylabel(row_labels[row], fontsize=9)
        for column, (name, values) in enumerate(columns, start=1):
            _draw(axes[row, column], values[row], (0.0, 1.0), name if row == 0 else None)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return _save(figure, path)
