"""Counting a network's FLOPs with :class:`torch.utils.flop_counter.FlopCounterMode`, grouped convolutions right."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


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
