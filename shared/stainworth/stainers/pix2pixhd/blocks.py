"""Pix2pixHD's building blocks: the norm choice, the reference's weight init, the convolution stages."""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

Norm = Literal["instance", "batch"]
NORMS: tuple[Norm, ...] = ("instance", "batch")
Upsample = Literal["transposed", "resize"]


def init_weights(module: nn.Module) -> None:
    """Reference initialisation: convolution weights N(0, 0.02); affine norm weights N(1, 0.02), biases 0.

    Convolution biases keep PyTorch's default, as in the reference. Use with ``net.apply``.
    """
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d | nn.InstanceNorm2d) and module.affine:
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def norm_layer(norm: Norm, channels: int) -> nn.Module:
    """``InstanceNorm2d(affine=False)`` (``"instance"``) or ``BatchNorm2d`` (``"batch"``) of ``channels``."""
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=False)
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    raise ValueError(f"pix2pixHD norm '{norm}'; expected one of {NORMS}")


def conv_norm_relu(conv: nn.Conv2d | nn.ConvTranspose2d, channels: int, norm: Norm) -> list[nn.Module]:
    """``conv`` followed by its norm and a ReLU."""
    return [conv, norm_layer(norm, channels), nn.ReLU(inplace=True)]


def stem(in_channels: int, channels: int, norm: Norm) -> list[nn.Module]:
    """Reflection-padded 7 x 7 convolution."""
    return [nn.ReflectionPad2d(3), *conv_norm_relu(nn.Conv2d(in_channels, channels, 7), channels, norm)]


def down(channels: int, norm: Norm) -> list[nn.Module]:
    """Stride-2 3 x 3 convolution doubling the channels."""
    return conv_norm_relu(nn.Conv2d(channels, 2 * channels, 3, stride=2, padding=1), 2 * channels, norm)


def up(channels: int, norm: Norm, upsample: Upsample = "transposed") -> list[nn.Module]:
    """Double the resolution, halving the channels.

    ``"transposed"``: the reference's stride-2 3 x 3 transposed convolution. ``"resize"``:
    nearest-neighbour doubling followed by a reflection-padded 3 x 3 convolution (Odena et al.
    2016). A stride-2 transposed convolution of kernel 3 adds two kernel taps to every other output
    pixel and one to the rest, so unless the weights learn to compensate it prints a period-2
    checkerboard on smooth regions; resizing first gives every output pixel the same number of taps.
    """
    if upsample == "resize":
        return [nn.Upsample(scale_factor=2, mode="nearest"), nn.ReflectionPad2d(1),
                *conv_norm_relu(nn.Conv2d(channels, channels // 2, 3), channels // 2, norm)]
    conv = nn.ConvTranspose2d(channels, channels // 2, 3, stride=2, padding=1, output_padding=1)
    return conv_norm_relu(conv, channels // 2, norm)


def head(channels: int, out_channels: int) -> nn.Sequential:
    """Reflection-padded 7 x 7 convolution with a linear output."""
    return nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(channels, out_channels, 7))


class ResnetBlock(nn.Module):
    """Residual block: two reflection-padded 3 x 3 convolutions with norms, a ReLU between, added to the input."""

    def __init__(self, channels: int, norm: Norm) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), *conv_norm_relu(nn.Conv2d(channels, channels, 3), channels, norm),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), norm_layer(norm, channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        """``x + body(x)``."""
        return x + self.body(x)


def check_sizes(minimum: int, **sizes: int) -> None:
    """Raise :class:`ValueError` naming every size below ``minimum``."""
    bad = {name: value for name, value in sizes.items() if value < minimum}
    if bad:
        raise ValueError(f"pix2pixHD sizes {bad}: expected >= {minimum}")
