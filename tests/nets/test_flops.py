"""FLOP counting: a training step costs about three forward passes, grouped convolutions included."""

import pytest
import torch

from stainworth.nets.flops import count_flops


@pytest.mark.parametrize("groups", [1, 4, 16])
def test_a_training_step_of_a_grouped_convolution_counts_three_forward_passes(groups):
    conv = torch.nn.Conv2d(16, 16, 3, padding=1, groups=groups, bias=False)
    x = torch.randn(2, 16, 8, 8, requires_grad=True)
    expected_forward = 2 * 2 * 8 * 8 * 16 * (16 // groups) * 9  # 2 FLOPs per multiply-add
    assert count_flops(lambda: conv(x)) == expected_forward
    assert count_flops(lambda: conv(x).sum().backward()) == 3 * expected_forward


def test_a_frozen_input_saves_the_input_gradient():
    conv = torch.nn.Conv2d(4, 8, 3, groups=4, bias=False)
    x = torch.randn(1, 4, 6, 6)  # no gradient wanted for the input: weight gradient only
    forward = count_flops(lambda: conv(x))
    assert count_flops(lambda: conv(x).sum().backward()) == 2 * forward
