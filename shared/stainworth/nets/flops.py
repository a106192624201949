"""FLOPs: a network's, counted, and a device's dense matmul rate, the reference they are compared with.

Counting uses :class:`torch.utils.flop_counter.FlopCounterMode` with grouped convolutions counted right.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

MATMUL_SIDE = 2048
"""Side of the square matrices :func:`matmul_rate` multiplies."""


def grouped_conv_backward_flop(grad_out_shape: Any, x_shape: Any, w_shape: Any, _bias: Any, _stride: Any,
                               _padding: Any, _dilation: Any, transposed: bool, _output_padding: Any, _groups: int,
                               output_mask: Any, out_shape: Any = None, **kwargs: Any) -> int:
    """FLOPs of a convolution's backward that hold for grouped (e.g. depthwise) convolutions too.

    The gradient of the input and the gradient of the weights each cost what the forward
    convolution costs (every product of the forward appears once in each). PyTorch's own formula
    (``torch.utils.flop_counter.conv_backward_flop``, torch 2.14) ignores ``groups``: for a
    depthwise convolution it counts the weight gradient as a dense one, channels times too many,
    which made an EfficientNet's training step count 36 times its forward pass instead of 3.
    """
    from torch.utils.flop_counter import conv_flop_count

    forward = conv_flop_count(list(x_shape), list(w_shape), list(grad_out_shape), transposed=transposed)
    return forward * (int(bool(output_mask[0])) + int(bool(output_mask[1])))


def count_flops(run: Callable[[], Any]) -> float:
    """FLOPs of the matrix products and convolutions ``run()`` executes (forward and backward)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    mapping = {torch.ops.aten.convolution_backward: grouped_conv_backward_flop}
    with FlopCounterMode(display=False, custom_mapping=mapping) as counter:
        run()
    return float(counter.get_total_flops())


def matmul_rate(dtype: Any, *, device: Any = "cpu", side: int = MATMUL_SIDE, repeats: int = 5) -> float:
    """Dense matmul rate of this process on ``device`` in ``dtype``, FLOP/s (the best of ``repeats``)."""
    import torch

    a = torch.randn(side, side, dtype=dtype, device=device)
    b = torch.randn(side, side, dtype=dtype, device=device)
    synchronise = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    a @ b
    synchronise()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        synchronise()
        best = min(best, time.perf_counter() - started)
    return 2 * side**3 / best
