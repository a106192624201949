"""Pix2pixHD's generators: the global generator G1 and the coarse-to-fine local enhancer, for any image size."""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from stainworth.nets.padding import crop_back, pad_to_multiple
from stainworth.stainers.pix2pixhd.blocks import (
    Norm,
    ResnetBlock,
    Upsample,
    check_sizes,
    down,
    head,
    init_weights,
    stem,
    up,
)


def global_trunk(in_channels: int, ngf: int, n_downsampling: int, n_blocks: int, norm: Norm,
                 upsample: Upsample = "transposed") -> nn.Sequential:
    """The global generator without its output convolution: ``ngf`` channels at the input's resolution."""
    layers = stem(in_channels, ngf, norm)
    for i in range(n_downsampling):
        layers += down(ngf * 2**i, norm)
    layers += [ResnetBlock(ngf * 2**n_downsampling, norm) for _ in range(n_blocks)]
    for i in range(n_downsampling, 0, -1):
        layers += up(ngf * 2**i, norm, upsample)
    return nn.Sequential(*layers)


class Pix2pixHDGenerator(nn.Module):
    """Base of the generators: ``forward`` takes any (N, C, H, W) and returns (N, out_channels, H, W).

    Attributes
    ----------
    multiple
        Side multiple ``forward_aligned`` needs.
    """

    multiple: int

    def forward(self, x: Tensor) -> Tensor:
        """Output of the input's size, for any H and W (see :func:`generate`)."""
        return generate(self, x)

    def forward_aligned(self, x: Tensor) -> Tensor:
        """Output for (N, C, H, W) with H and W multiples of ``self.multiple``."""
        if x.dim() != 4 or x.shape[-2] % self.multiple or x.shape[-1] % self.multiple:
            raise ValueError(f"{type(self).__name__}: input of shape {tuple(x.shape)}; expected (N, C, H, W) with H "
                             f"and W multiples of {self.multiple} (forward pads any size)")
        return self._run(x)

    def _run(self, x: Tensor) -> Tensor:
        raise NotImplementedError


class GlobalGenerator(Pix2pixHDGenerator):
    """Pix2pixHD's global generator G1: 7 x 7 stem, downsampling, residual blocks, upsampling, 7 x 7 head.

    Parameters
    ----------
    in_channels, out_channels
        Label-free channels in, fluorescence channels out.
    ngf
        Filters of the first layer; doubled by every downsampling.
    n_downsampling
        Stride-2 convolutions (and as many upsamplings); inputs are padded to multiples of
        ``2 ** n_downsampling``.
    n_blocks
        Residual blocks at the lowest resolution.
    norm
        ``"instance"`` (the reference's default) or ``"batch"``.
    upsample
        ``"transposed"`` (the reference's) or ``"resize"`` (see :func:`.blocks.up`).

    Notes
    -----
    The output is linear, not ``Tanh`` as in the reference (see the module docstring).
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, ngf: int = 64, n_downsampling: int = 3,
                 n_blocks: int = 9, norm: Norm = "instance", upsample: Upsample = "transposed") -> None:
        super().__init__()
        check_sizes(1, in_channels=in_channels, out_channels=out_channels, ngf=ngf)
        check_sizes(0, n_downsampling=n_downsampling, n_blocks=n_blocks)
        self.multiple = 2**n_downsampling
        self.trunk = global_trunk(in_channels, ngf, n_downsampling, n_blocks, norm, upsample)
        self.head = head(ngf, out_channels)
        self.apply(init_weights)

    def _run(self, x: Tensor) -> Tensor:
        return self.head(self.trunk(x))


class LocalEnhancer(Pix2pixHDGenerator):
    """Pix2pixHD's coarse-to-fine generator: a global generator on a downsampled input, refined by local enhancers.

    The global generator (``ngf * 2 ** n_local_enhancers`` filters, without its output
    convolution) runs on the input downsampled ``n_local_enhancers`` times by
    ``AvgPool2d(3, 2, 1, count_include_pad=False)``. Each enhancer, coarsest first, adds the
    previous features to its own front end's (7 x 7 stem and one stride-2 convolution on the
    input at its scale), then applies residual blocks and one transposed convolution; a 7 x 7
    linear head gives the output.

    Parameters
    ----------
    in_channels, out_channels
        Label-free channels in, fluorescence channels out.
    ngf
        Filters of the finest enhancer's first layer.
    n_downsampling_global, n_blocks_global
        Sizes of the global generator.
    n_local_enhancers
        Enhancers, each doubling the resolution; 0 gives a :class:`GlobalGenerator` of ``ngf``
        filters (same layers and, under the same seed, the same weights).
    n_blocks_local
        Residual blocks per enhancer.
    norm
        ``"instance"`` (the reference's default) or ``"batch"``.
    upsample
        ``"transposed"`` (the reference's) or ``"resize"`` (see :func:`.blocks.up`).
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, ngf: int = 32, n_downsampling_global: int = 3,
                 n_blocks_global: int = 9, n_local_enhancers: int = 1, n_blocks_local: int = 3,
                 norm: Norm = "instance", upsample: Upsample = "transposed") -> None:
        super().__init__()
        check_sizes(1, in_channels=in_channels, out_channels=out_channels, ngf=ngf)
        check_sizes(0, n_downsampling_global=n_downsampling_global, n_blocks_global=n_blocks_global,
                     n_local_enhancers=n_local_enhancers, n_blocks_local=n_blocks_local)
        self.n_local_enhancers = n_local_enhancers
        self.multiple = 2 ** (n_downsampling_global + n_local_enhancers)
        self.trunk = global_trunk(in_channels, ngf * 2**n_local_enhancers, n_downsampling_global, n_blocks_global,
                                   norm, upsample)
        self.fronts, self.backs = nn.ModuleList(), nn.ModuleList()
        for n in range(1, n_local_enhancers + 1):
            channels = ngf * 2 ** (n_local_enhancers - n)
            self.fronts.append(nn.Sequential(*stem(in_channels, channels, norm), *down(channels, norm)))
            self.backs.append(nn.Sequential(*[ResnetBlock(2 * channels, norm) for _ in range(n_blocks_local)],
                                            *up(2 * channels, norm, upsample)))
        self.head = head(ngf, out_channels)
        self.downsample = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
        self.apply(init_weights)

    def _run(self, x: Tensor) -> Tensor:
        pyramid = [x]
        for _ in range(self.n_local_enhancers):
            pyramid.append(self.downsample(pyramid[-1]))
        features = self.trunk(pyramid[-1])
        for front, back, level in zip(self.fronts, self.backs, reversed(pyramid[:-1]), strict=True):
            features = back(front(level) + features)
        return self.head(features)


def build_pix2pixhd_generator(kind: Literal["global", "local"], *, in_channels: int = 1, out_channels: int = 1,
                              ngf: int | None = None, n_downsampling: int = 3, n_blocks: int = 9,
                              n_local_enhancers: int = 1, n_blocks_local: int = 3,
                              norm: Norm = "instance", upsample: Upsample = "transposed") -> Pix2pixHDGenerator:
    """A :class:`GlobalGenerator` (``"global"``) or a :class:`LocalEnhancer` (``"local"``) from one set of sizes.

    Parameters
    ----------
    kind
        Which generator.
    in_channels, out_channels
        Channels in and out.
    ngf
        Filters of the generator's first layer (for ``"local"`` the finest enhancer's; its global
        generator gets ``ngf * 2 ** n_local_enhancers``); ``None``: the reference's 64 (global) or 32 (local).
    n_downsampling, n_blocks
        Sizes of the global generator.
    n_local_enhancers, n_blocks_local
        Sizes of the local enhancers (ignored for ``"global"``).
    norm
        ``"instance"`` (the reference's default) or ``"batch"``.
    upsample
        ``"transposed"`` (the reference's) or ``"resize"`` (nearest doubling + convolution; see :func:`.blocks.up`).
    """
    if kind == "global":
        return GlobalGenerator(in_channels, out_channels, 64 if ngf is None else ngf, n_downsampling, n_blocks, norm,
                               upsample)
    if kind == "local":
        return LocalEnhancer(in_channels, out_channels, 32 if ngf is None else ngf, n_downsampling, n_blocks,
                             n_local_enhancers, n_blocks_local, norm, upsample)
    raise ValueError(f"pix2pixHD generator '{kind}'; expected 'global' or 'local'")


def required_multiple(generator: Pix2pixHDGenerator) -> int:
    """Side multiple the generator needs: ``2 ** n_downsampling``, doubled per local enhancer."""
    return int(generator.multiple)


def generate(generator: Pix2pixHDGenerator, x: Tensor) -> Tensor:
    """Run the generator on (N, C, H, W) of any H, W: pad to :func:`required_multiple`, run, crop back.

    Padding reflects the image, or replicates its border when the image is smaller than the pad.
    Gradients flow (wrap in ``torch.no_grad()`` for inference).
    """
    padded, pads = pad_to_multiple(x, required_multiple(generator))
    return crop_back(generator.forward_aligned(padded), pads)
