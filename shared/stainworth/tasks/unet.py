"""The study's shallow U-Nets (UNet1, UNet2, UNet3): trained from scratch, one logit per pixel.

Section 4.5 of the study defines them: "UNet1, the shallowest architecture, was designed with a
single convolutional block in the encoder and a single deconvolutional block in the decoder. Each
encoder block was composed of a convolutional layer, ReLU activation, and max-pooling operation,
while the decoder employed deconvolution, ReLU activation, and concatenation with the
corresponding encoder layer. UNet2 was extended to include two blocks per encoder and decoder,
while UNet3 included three such blocks."

The study states neither kernel sizes nor widths. Here:

- encoder block ``k`` (``k = 1..depth``): 3x3 convolution (padding 1) to ``w_k`` channels, ReLU,
  2x2 max-pool; its pre-pooling output is the skip connection of decoder block ``k``;
- decoder block ``k`` (deepest first): 2x2 transposed convolution of stride 2 to ``w_k``
  channels, ReLU, concatenation with the skip of encoder block ``k`` (``2 w_k`` channels out);
- widths double from :data:`BASE_WIDTH`: ``w_k = 16 * 2**(k - 1)`` (UNet1: 16; UNet2: 16, 32;
  UNet3: 16, 32, 64), so capacity grows with depth and stays far below EfficientUNet0;
- a 1x1 convolution maps the ``2 w_1`` channels at full resolution to one logit channel. The
  study's BCE loss on probabilities is applied to these logits as
  :class:`torch.nn.BCEWithLogitsLoss` (the sigmoid lives in the loss).

:meth:`ShallowUNet.decode` returns the features the 1x1 head sees (the study's "penultimate
decoder layer", Fig. 7; :mod:`stainworth.analysis.feature_maps`).

Inputs of any size are reflection-padded to a multiple of ``2**depth`` and the output is cropped
back (:class:`~stainworth.nets.padding.PadToMultiple`).
"""

from __future__ import annotations

import torch
from torch import nn

from stainworth.errors import ConfigError
from stainworth.nets.padding import PadToMultiple

BASE_WIDTH = 16
"""Channels of the first encoder block; each deeper block doubles it."""

DEPTHS = (1, 2, 3)
"""Depths of the study's UNet1, UNet2 and UNet3."""


def doubling_widths(depth: int, base_width: int = BASE_WIDTH) -> tuple[int, ...]:
    """Channels of blocks ``1..depth``: ``base_width`` doubling with each block (U-Nets and CNNs).

    Parameters
    ----------
    depth
        Number of blocks.
    base_width
        Channels of the first block.

    Returns
    -------
    widths : tuple of int
        ``(base_width, 2 * base_width, ...)``, ``depth`` entries.
    """
    return tuple(base_width * 2**k for k in range(depth))


class EncoderBlock(nn.Module):
    """Convolution, ReLU, max-pool; returns the pre-pooling features (the skip) and the pooled ones.

    Parameters
    ----------
    in_channels, out_channels
        Channels in and out of the 3x3 convolution.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(skip, pooled)``: (N, out, H, W) and (N, out, H/2, W/2)."""
        skip = self.relu(self.conv(x))
        return skip, self.pool(skip)


class DecoderBlock(nn.Module):
    """Transposed convolution (2x upsampling), ReLU, concatenation with the encoder's skip.

    Parameters
    ----------
    in_channels, out_channels
        Channels in and out of the 2x2 transposed convolution; the block returns
        ``out_channels`` plus the skip's channels.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.deconv = nn.ConvTranspose2d(in_channels, out_channels, kernel_size=2, stride=2)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """(N, out + skip channels, 2h, 2w) from (N, in, h, w) and the (N, ., 2h, 2w) skip."""
        return torch.cat([self.relu(self.deconv(x)), skip], dim=1)


class ShallowUNet(nn.Module):
    """U-Net of ``depth`` encoder and decoder blocks and a 1x1 logit head (sides divisible by ``2**depth``).

    Parameters
    ----------
    depth
        Number of blocks: 1, 2, 3 for the study's UNet1, UNet2, UNet3.
    in_channels
        Image channels.
    base_width
        Channels of the first block (see :func:`doubling_widths`).
    """

    def __init__(self, depth: int, *, in_channels: int = 1, base_width: int = BASE_WIDTH) -> None:
        super().__init__()
        widths = doubling_widths(depth, base_width)
        self.depth = depth
        self.encoders = nn.ModuleList(EncoderBlock(c_in, c_out)
                                      for c_in, c_out in zip((in_channels, *widths[:-1]), widths, strict=True))
        decoder_inputs = (widths[-1], *(2 * w for w in widths[:0:-1]))
        self.decoders = nn.ModuleList(DecoderBlock(c_in, c_out)
                                      for c_in, c_out in zip(decoder_inputs, widths[::-1], strict=True))
        self.head = nn.Conv2d(2 * widths[0], 1, kernel_size=1)

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features (N, ``2 w_1``, H, W): the last decoder block's output, fed to ``head``."""
        skips = []
        for encoder in self.encoders:
            skip, x = encoder(x)
            skips.append(skip)
        for decoder, skip in zip(self.decoders, reversed(skips), strict=True):
            x = decoder(x, skip)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, 1, H, W), ``head(decode(x))``, for images (N, C, H, W) of sides divisible by ``2**depth``."""
        return self.head(self.decode(x))


def build_unet(depth: int, *, in_channels: int = 1, base_width: int = BASE_WIDTH) -> PadToMultiple:
    """The study's UNet``depth``, accepting any image size (reflection-padded, cropped back).

    Parameters
    ----------
    depth
        1, 2 or 3 (UNet1, UNet2, UNet3).
    in_channels
        Image channels.
    base_width
        Channels of the first block.

    Returns
    -------
    net : PadToMultiple
        Maps (N, ``in_channels``, H, W) to logits (N, 1, H, W); the U-Net is ``net.net``.

    Raises
    ------
    ConfigError
        A depth other than 1, 2, 3.
    """
    if isinstance(depth, bool) or not isinstance(depth, int) or depth not in DEPTHS:
        raise ConfigError(f"U-Net depth {depth!r}: expected one of {', '.join(map(str, DEPTHS))}")
    return PadToMultiple(ShallowUNet(depth, in_channels=in_channels, base_width=base_width), 2**depth)
