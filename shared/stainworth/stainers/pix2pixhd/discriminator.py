"""Pix2pixHD's conditional PatchGAN discriminators, at one scale and at K scales."""

from __future__ import annotations

from torch import Tensor, nn

from stainworth.stainers.pix2pixhd.blocks import Norm, check_sizes, init_weights, norm_layer

Features = list[list[Tensor]]
"""Discriminator output: per scale (finest first), the features of every layer (logits last)."""


class NLayerDiscriminator(nn.Module):
    """PatchGAN of ``n_layers + 2`` 4 x 4 convolutions, returning every layer's features (for feature matching).

    Parameters
    ----------
    in_channels
        2 for the conditional discriminator: ``concat(label_free, fluorescence)``.
    ndf
        Filters of the first layer; doubled per layer up to 512.
    n_layers
        Stride-2 convolutions (the first ``n_layers``) before two stride-1 ones; the last gives
        one logit per patch (no sigmoid: least-squares GAN).
    norm
        ``"instance"`` (the reference's default) or ``"batch"``.
    """

    def __init__(self, in_channels: int = 2, ndf: int = 64, n_layers: int = 3, norm: Norm = "instance") -> None:
        super().__init__()
        check_sizes(1, in_channels=in_channels, ndf=ndf, n_layers=n_layers)
        channels = [min(ndf * 2**i, 512) for i in range(n_layers + 1)]
        layers = [nn.Sequential(nn.Conv2d(in_channels, ndf, 4, stride=2, padding=2), nn.LeakyReLU(0.2, inplace=True))]
        for i in range(1, n_layers + 1):
            conv = nn.Conv2d(channels[i - 1], channels[i], 4, stride=2 if i < n_layers else 1, padding=2)
            layers.append(nn.Sequential(conv, norm_layer(norm, channels[i]), nn.LeakyReLU(0.2, inplace=True)))
        layers.append(nn.Sequential(nn.Conv2d(channels[-1], 1, 4, stride=1, padding=2)))
        self.layers = nn.ModuleList(layers)
        self.apply(init_weights)

    def forward(self, x: Tensor) -> list[Tensor]:
        """The ``n_layers + 2`` layers' outputs, patch logits last."""
        features = []
        for layer in self.layers:
            x = layer(x)
            features.append(x)
        return features


class MultiscaleDiscriminator(nn.Module):
    """K :class:`NLayerDiscriminator` on the input at scales 1, 1/2, 1/4, ...

    Each coarser scale is ``AvgPool2d(3, 2, 1, count_include_pad=False)`` of the previous.

    Parameters
    ----------
    in_channels, ndf, n_layers, norm
        As :class:`NLayerDiscriminator`.
    num_d
        Number of discriminators K (scales).
    """

    def __init__(self, in_channels: int = 2, ndf: int = 64, n_layers: int = 3, num_d: int = 3,
                 norm: Norm = "instance") -> None:
        super().__init__()
        check_sizes(1, num_d=num_d)
        self.discriminators = nn.ModuleList(NLayerDiscriminator(in_channels, ndf, n_layers, norm)
                                            for _ in range(num_d))
        self.downsample = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)

    def forward(self, x: Tensor) -> Features:
        """Per scale (finest first), the features of every layer (patch logits last)."""
        features = []
        for scale, discriminator in enumerate(self.discriminators):
            if scale:
                x = self.downsample(x)
            features.append(discriminator(x))
        return features
