"""Run a trained network over a numpy image stack for analysis: evaluation mode, no gradients, batches.

Shared by :mod:`stainworth.analysis.embeddings` and :mod:`stainworth.analysis.feature_maps`.
Batch-normalisation layers use their running statistics (evaluation mode), so a result does not
depend on the batch size or on which images share a batch, and the same network and images give
the same numbers. The training flags of the network's modules are restored afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from stainworth.errors import ConfigError, InputDataError


def image_stack(images: np.ndarray) -> np.ndarray:
    """``images`` as a float32 (N, C, H, W) stack; (N, H, W) gains a channel axis.

    Raises
    ------
    InputDataError
        Not 3-D or 4-D, no images, not numeric, or NaN / infinite pixels.
    """
    array = np.asarray(images)
    if array.dtype.kind not in "biuf":
        raise InputDataError(f"images: found dtype {array.dtype}; expected numeric pixels")
    if array.ndim not in (3, 4):
        raise InputDataError(f"images: found shape {array.shape}; expected (N, H, W) or (N, C, H, W)")
    if array.shape[0] == 0:
        raise InputDataError(f"images: found 0 images (shape {array.shape}); expected at least one")
    array = array.astype(np.float32, copy=False)
    if not np.isfinite(array).all():
        raise InputDataError(f"images: found {np.count_nonzero(~np.isfinite(array))} NaN or infinite pixels; "
                             "expected finite values")
    return array[:, None] if array.ndim == 3 else array


def check_batch_size(batch_size: int) -> int:
    """``batch_size`` if it is an integer >= 1.

    Raises
    ------
    ConfigError
        Anything else.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer) or batch_size < 1:
        raise ConfigError(f"batch_size: found {batch_size!r}; expected an integer >= 1")
    return int(batch_size)


@contextmanager
def evaluation(net: nn.Module) -> Iterator[nn.Module]:
    """``net`` in evaluation mode without gradients; every module's training flag is restored on exit."""
    flags = [(module, module.training) for module in net.modules()]
    net.eval()
    try:
        with torch.no_grad():
            yield net
    finally:
        for module, training in flags:
            module.training = training


def batches(net: nn.Module, stack: np.ndarray, batch_size: int) -> Iterator[torch.Tensor]:
    """Consecutive batches of the (N, C, H, W) ``stack`` as tensors on ``net``'s device and float dtype."""
    parameter = next(net.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    dtype = parameter.dtype if parameter is not None and parameter.is_floating_point() else torch.float32
    for start in range(0, stack.shape[0], batch_size):
        yield torch.from_numpy(np.ascontiguousarray(stack[start:start + batch_size])).to(device=device, dtype=dtype)
