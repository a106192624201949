"""Pix2pixHD for virtual staining: one label-free channel in, one fluorescence channel out.

Follows Wang et al. (2018) [1]_ and NVIDIA's reference implementation: a global generator
(ResNet encoder-decoder), optionally wrapped by local enhancers that work at twice its
resolution, and K PatchGAN discriminators at scales 1, 1/2, 1/4, ... that are conditional
(they see ``concat(label_free, fluorescence)``). Training minimises the study's Eq. 1,

    min_G ( max_{D_1..D_K} sum_k L_GAN(G, D_k) + lambda_FM sum_k L_FM(G, D_k) ),  lambda_FM = 10,

with least-squares GAN losses and discriminator feature matching, both as in the reference
(no VGG perceptual loss: Eq. 1 has none, and it would need downloaded ImageNet weights).

Adaptations to microscopy:

- The generator's output is linear (no ``Tanh``). Stainers work in the normalised intensity
  space of :mod:`stainworth.nets.normalise`, where the training split's 1st..99.8th
  percentile spans 0..1 and bright structures legitimately exceed 1; a ``Tanh`` would clip them.
- Generators accept any image size: ``forward`` (= :func:`generate`) reflection-pads the input
  to :func:`required_multiple`, runs the network (``forward_aligned``) and crops back.

Normalisation is the reference's ``--norm`` choice: ``"instance"`` (``InstanceNorm2d(affine=False)``,
its default) or ``"batch"`` (``BatchNorm2d``), in the generator and the discriminators alike.
Instance statistics are taken per image and channel, so on a patch that is mostly flat
background or debris they blow near-constant features up to unit variance; with batch
statistics the network sees how weak such features are against the batch (see docs/stainers.md
for what this does on the real ISL example). Weights are drawn as in the reference
(convolutions N(0, 0.02), affine norms N(1, 0.02)) from torch's global generator, so networks
built after the same ``torch.manual_seed`` are identical.

References
----------
.. [1] Wang TC, Liu MY, Zhu JY, Tao A, Kautz J, Catanzaro B (2018). High-resolution image
       synthesis and semantic manipulation with conditional GANs. CVPR. arXiv:1711.11585
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stainworth.nets.padding import Pads, crop_back, pad_to_multiple

__all__ = [
    "Features",
    "GlobalGenerator",
    "LocalEnhancer",
    "MultiscaleDiscriminator",
    "NLayerDiscriminator",
    "NORMS",
    "Norm",
    "Pads",
    "Pix2pixHDGenerator",
    "build_pix2pixhd_generator",
    "crop_back",
    "discriminator_loss",
    "feature_matching_loss",
    "gan_loss",
    "generate",
    "generator_loss",
    "init_weights",
    "pad_to_multiple",
    "required_multiple",
]

Norm = Literal["instance", "batch"]
NORMS: tuple[Norm, ...] = ("instance", "batch")
Upsample = Literal["transposed", "resize"]
Features = list[list[Tensor]]
"""Discriminator output: per scale (finest first), the features of every layer (logits last)."""


def init_weights(module: nn.Module) -> None:
    """Reference initialisation: convolution weights N(0, 0.02); affine norm weights N(1, 0.02), biases 0.

    Convolution biases keep PyTorch's default, as in the reference. Use with ``net.apply``.
    """
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d | nn.InstanceNorm2d) and module.affine:
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def _norm(norm: Norm, channels: int) -> nn.Module:
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=False)
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    raise ValueError(f"pix2pixHD norm '{norm}'; expected one of {NORMS}")


def _conv_norm_relu(conv: nn.Conv2d | nn.ConvTranspose2d, channels: int, norm: Norm) -> list[nn.Module]:
    return [conv, _norm(norm, channels), nn.ReLU(inplace=True)]


def _stem(in_channels: int, channels: int, norm: Norm) -> list[nn.Module]:
    """Reflection-padded 7 x 7 convolution."""
    return [nn.ReflectionPad2d(3), *_conv_norm_relu(nn.Conv2d(in_channels, channels, 7), channels, norm)]


def _down(channels: int, norm: Norm) -> list[nn.Module]:
    """Stride-2 3 x 3 convolution doubling the channels."""
    return _conv_norm_relu(nn.Conv2d(channels, 2 * channels, 3, stride=2, padding=1), 2 * channels, norm)


def _up(channels: int, norm: Norm, upsample: Upsample = "transposed") -> list[nn.Module]:
    """Double the resolution, halving the channels.

    ``"transposed"``: the reference's stride-2 3 x 3 transposed convolution. ``"resize"``:
    nearest-neighbour doubling followed by a reflection-padded 3 x 3 convolution (Odena et al.
    2016). A stride-2 transposed convolution of kernel 3 adds two kernel taps to every other output
    pixel and one to the rest, so unless the weights learn to compensate it prints a period-2
    checkerboard on smooth regions; resizing first gives every output pixel the same number of taps.
    """
    if upsample == "resize":
        return [nn.Upsample(scale_factor=2, mode="nearest"), nn.ReflectionPad2d(1),
                *_conv_norm_relu(nn.Conv2d(channels, channels // 2, 3), channels // 2, norm)]
    conv = nn.ConvTranspose2d(channels, channels // 2, 3, stride=2, padding=1, output_padding=1)
    return _conv_norm_relu(conv, channels // 2, norm)


def _head(channels: int, out_channels: int) -> nn.Sequential:
    """Reflection-padded 7 x 7 convolution with a linear output."""
    return nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(channels, out_channels, 7))


class _ResnetBlock(nn.Module):
    def __init__(self, channels: int, norm: Norm) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), *_conv_norm_relu(nn.Conv2d(channels, channels, 3), channels, norm),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), _norm(norm, channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


def _global_trunk(in_channels: int, ngf: int, n_downsampling: int, n_blocks: int, norm: Norm,
                  upsample: Upsample = "transposed") -> nn.Sequential:
    """The global generator without its output convolution: ``ngf`` channels at the input's resolution."""
    layers = _stem(in_channels, ngf, norm)
    for i in range(n_downsampling):
        layers += _down(ngf * 2**i, norm)
    layers += [_ResnetBlock(ngf * 2**n_downsampling, norm) for _ in range(n_blocks)]
    for i in range(n_downsampling, 0, -1):
        layers += _up(ngf * 2**i, norm, upsample)
    return nn.Sequential(*layers)


def _check_sizes(minimum: int, **sizes: int) -> None:
    bad = {name: value for name, value in sizes.items() if value < minimum}
    if bad:
        raise ValueError(f"pix2pixHD sizes {bad}: expected >= {minimum}")


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
        ``"transposed"`` (the reference's) or ``"resize"`` (see :func:`_up`).

    Notes
    -----
    The output is linear, not ``Tanh`` as in the reference (see the module docstring).
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, ngf: int = 64, n_downsampling: int = 3,
                 n_blocks: int = 9, norm: Norm = "instance", upsample: Upsample = "transposed") -> None:
        super().__init__()
        _check_sizes(1, in_channels=in_channels, out_channels=out_channels, ngf=ngf)
        _check_sizes(0, n_downsampling=n_downsampling, n_blocks=n_blocks)
        self.multiple = 2**n_downsampling
        self.trunk = _global_trunk(in_channels, ngf, n_downsampling, n_blocks, norm, upsample)
        self.head = _head(ngf, out_channels)
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
        ``"transposed"`` (the reference's) or ``"resize"`` (see :func:`_up`).
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, ngf: int = 32, n_downsampling_global: int = 3,
                 n_blocks_global: int = 9, n_local_enhancers: int = 1, n_blocks_local: int = 3,
                 norm: Norm = "instance", upsample: Upsample = "transposed") -> None:
        super().__init__()
        _check_sizes(1, in_channels=in_channels, out_channels=out_channels, ngf=ngf)
        _check_sizes(0, n_downsampling_global=n_downsampling_global, n_blocks_global=n_blocks_global,
                     n_local_enhancers=n_local_enhancers, n_blocks_local=n_blocks_local)
        self.n_local_enhancers = n_local_enhancers
        self.multiple = 2 ** (n_downsampling_global + n_local_enhancers)
        self.trunk = _global_trunk(in_channels, ngf * 2**n_local_enhancers, n_downsampling_global, n_blocks_global,
                                   norm, upsample)
        self.fronts, self.backs = nn.ModuleList(), nn.ModuleList()
        for n in range(1, n_local_enhancers + 1):
            channels = ngf * 2 ** (n_local_enhancers - n)
            self.fronts.append(nn.Sequential(*_stem(in_channels, channels, norm), *_down(channels, norm)))
            self.backs.append(nn.Sequential(*[_ResnetBlock(2 * channels, norm) for _ in range(n_blocks_local)],
                                            *_up(2 * channels, norm, upsample)))
        self.head = _head(ngf, out_channels)
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
        ``"transposed"`` (the reference's) or ``"resize"`` (nearest doubling + convolution; see :func:`_up`).
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
        _check_sizes(1, in_channels=in_channels, ndf=ndf, n_layers=n_layers)
        channels = [min(ndf * 2**i, 512) for i in range(n_layers + 1)]
        layers = [nn.Sequential(nn.Conv2d(in_channels, ndf, 4, stride=2, padding=2), nn.LeakyReLU(0.2, inplace=True))]
        for i in range(1, n_layers + 1):
            conv = nn.Conv2d(channels[i - 1], channels[i], 4, stride=2 if i < n_layers else 1, padding=2)
            layers.append(nn.Sequential(conv, _norm(norm, channels[i]), nn.LeakyReLU(0.2, inplace=True)))
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
        _check_sizes(1, num_d=num_d)
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


def gan_loss(prediction_features: Features, target_is_real: bool) -> Tensor:
    """Least-squares GAN loss: MSE of each scale's patch logits to 1 (real) or 0 (fake), summed over scales.

    The sum over scales is Eq. 1's ``sum_k L_GAN(G, D_k)`` and the reference's ``GANLoss``.
    """
    target = 1.0 if target_is_real else 0.0
    terms = [F.mse_loss(scale[-1], torch.full_like(scale[-1], target)) for scale in prediction_features]
    return torch.stack(terms).sum()


def feature_matching_loss(fake_features: Features, real_features: Features) -> Tensor:
    """L1 between the discriminator's features of fake and real images, every layer but the logits.

    Weighted as the reference: ``4 / (n_layers + 1)`` per layer and ``1 / num_d`` per scale.
    Real features are detached. ``lambda_FM`` is not applied here.
    """
    if len(fake_features) != len(real_features) or any(
            len(f) != len(r) for f, r in zip(fake_features, real_features, strict=True)):
        raise ValueError("feature matching: fake and real features come from differently shaped discriminators")
    loss = fake_features[0][-1].new_zeros(())
    for fake_scale, real_scale in zip(fake_features, real_features, strict=True):
        weight = 4.0 / (len(fake_scale) - 1) / len(fake_features)
        for fake, real in zip(fake_scale[:-1], real_scale[:-1], strict=True):
            loss = loss + weight * F.l1_loss(fake, real.detach())
    return loss


def generator_loss(discriminator: nn.Module, label_free: Tensor, fake: Tensor, real: Tensor,
                   lambda_fm: float = 10.0, lambda_l1: float = 0.0) -> tuple[Tensor, dict[str, float]]:
    """Generator side of Eq. 1: ``L_GAN(fake judged real) + lambda_fm * L_FM`` (``+ lambda_l1 * L1``).

    Parameters
    ----------
    discriminator
        The conditional :class:`MultiscaleDiscriminator` (or a module returning :data:`Features`).
    label_free, fake, real
        (N, 1, H, W) input, generator output (not detached) and target fluorescence.
    lambda_fm
        Weight of feature matching.
    lambda_l1
        Weight of the mean absolute error to the target, pix2pix's data term (Isola et al.
        2017); 0, the default, is the study's Eq. 1.

    Returns
    -------
    total
        The loss to back-propagate into the generator (it also fills the discriminator's
        gradients: zero them before the discriminator step).
    parts
        ``g_gan``, ``g_fm`` (already times ``lambda_fm``), ``g_l1`` (times ``lambda_l1``; only
        when it is not 0) and ``g_total``.
    """
    fake_features = discriminator(torch.cat((label_free, fake), dim=1))
    with torch.no_grad():
        real_features = discriminator(torch.cat((label_free, real), dim=1))
    adversarial = gan_loss(fake_features, True)
    matching = lambda_fm * feature_matching_loss(fake_features, real_features)
    total = adversarial + matching
    parts = {"g_gan": adversarial.item(), "g_fm": matching.item()}
    if lambda_l1:
        data = lambda_l1 * F.l1_loss(fake, real)
        total = total + data
        parts["g_l1"] = data.item()
    return total, parts | {"g_total": total.item()}


def discriminator_loss(discriminator: nn.Module, label_free: Tensor, fake: Tensor, real: Tensor
                       ) -> tuple[Tensor, dict[str, float]]:
    """Discriminator side of Eq. 1: ``0.5 * (L_GAN(real judged real) + L_GAN(fake judged fake))``.

    ``fake`` is detached, so no gradient reaches the generator.

    Returns
    -------
    total
        The loss to back-propagate into the discriminator.
    parts
        ``d_real``, ``d_fake`` and ``d_total``.
    """
    fake_loss = gan_loss(discriminator(torch.cat((label_free, fake.detach()), dim=1)), False)
    real_loss = gan_loss(discriminator(torch.cat((label_free, real), dim=1)), True)
    total = 0.5 * (real_loss + fake_loss)
    return total, {"d_real": real_loss.item(), "d_fake": fake_loss.item(), "d_total": total.item()}
