"""The study's classifiers: CNN1, CNN3 (from scratch) and ResNet18/50/101; one logit per image.

Section 2.3.3 of the study: "CNN1 consisted of a single convolutional layer followed by ReLU
activation, max-pooling, a fully connected dense layer, and a sigmoid activation for
classification. CNN3 included three convolutional layers, each followed by ReLU activation and
max-pooling, and ended with a dense layer and sigmoid activation." The ResNets were "initialized
with ImageNet weights".

Every classifier returns logits of shape (N,) for images (N, C, H, W): the study's sigmoid is
applied in the loss (:class:`torch.nn.BCEWithLogitsLoss`) and by whoever wants probabilities.

Choices the study leaves open: CNN blocks are a 3x3 convolution (padding 1) with widths doubling
from 16 (CNN1: 16; CNN3: 16, 32, 64) and a 2x2 max-pool; before the dense layer the features are
average-pooled to a fixed :data:`POOLED_SIZE` x :data:`POOLED_SIZE` grid, so one network takes
any crop size (192x192 in the study, smaller in the ``mini`` profile) and its capacity does not
depend on the crop size. ResNets are torchvision's, with a first convolution for ``in_channels``
and a one-logit dense head after torchvision's global average pooling.

Every classifier has ``embed(x) -> (N, D)``, the penultimate features (the vector fed to the
final dense layer, ``head``), and ``forward(x) = head(embed(x))`` squeezed to (N,), so the
embeddings analysed by :mod:`stainworth.analysis.embeddings` are exactly what the logit is
computed from.

ImageNet weights come only from a local file (nothing is downloaded): a torchvision ResNet state
dict (safetensors, or loadable with ``torch.load(..., weights_only=True)``). Its classifier
(``fc.*``) is dropped; its RGB first convolution is adapted by
:func:`~stainworth.nets.weights.adapt_rgb_kernel` (summed over the colour axis for one channel, so a
grey image ``g`` gets the response of ``(g, g, g)``).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torchvision
from torch import nn

from stainworth.errors import ConfigError
from stainworth.nets.weights import load_imagenet_weights
from stainworth.tasks.unet import BASE_WIDTH, doubling_widths

POOLED_SIZE = 4
"""Side of the grid CNN features are average-pooled to before the dense layer."""

CNN_BLOCKS = (1, 3)
"""Blocks of the study's CNN1 and CNN3."""

RESNETS = {"resnet18": torchvision.models.resnet18, "resnet50": torchvision.models.resnet50,
           "resnet101": torchvision.models.resnet101}
"""torchvision constructors of the study's ResNets, by name."""

IMAGENET_HEAD = ("fc.",)
"""Key prefixes of the ImageNet classifier in torchvision ResNet state dicts."""


def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """3x3 convolution (padding 1), ReLU, 2x2 max-pool."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), nn.ReLU(inplace=True),
                         nn.MaxPool2d(2))


class SimpleCNN(nn.Module):
    """``blocks`` conv-ReLU-max-pool blocks, average pooling to a fixed grid, a dense layer to one logit.

    Parameters
    ----------
    blocks
        Number of blocks: 1 (CNN1) or 3 (CNN3).
    in_channels
        Image channels.
    base_width
        Channels of the first block; each further block doubles them.
    pooled_size
        Side of the grid the last block's features are averaged to.
    """

    def __init__(self, blocks: int, *, in_channels: int = 1, base_width: int = BASE_WIDTH,
                 pooled_size: int = POOLED_SIZE) -> None:
        super().__init__()
        widths = doubling_widths(blocks, base_width)
        self.features = nn.Sequential(*(conv_block(c_in, c_out)
                                        for c_in, c_out in zip((in_channels, *widths[:-1]), widths, strict=True)))
        self.pool = nn.AdaptiveAvgPool2d(pooled_size)
        self.head = nn.Linear(widths[-1] * pooled_size**2, 1)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features (N, ``widths[-1] * pooled_size**2``): the flattened pooled maps fed to ``head``."""
        return torch.flatten(self.pool(self.features(x)), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N,) for images (N, C, H, W), H and W at least ``2**blocks``: ``head(embed(x))``."""
        return self.head(self.embed(x)).squeeze(1)


class ResNetClassifier(nn.Module):
    """A torchvision ResNet with a one-logit head whose output is flattened to (N,).

    Parameters
    ----------
    net
        The ResNet (its state dict keys gain the prefix ``net.``).
    """

    def __init__(self, net: torchvision.models.ResNet) -> None:
        super().__init__()
        self.net = net

    @property
    def head(self) -> nn.Linear:
        """The one-logit dense layer (torchvision's ``fc``); an alias, not a second module."""
        return self.net.fc

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features (N, 512 or 2048): the globally pooled maps fed to ``head``.

        The steps of torchvision's ``ResNet._forward_impl`` up to and including the flattening.
        """
        net = self.net
        x = net.maxpool(net.relu(net.bn1(net.conv1(x))))
        x = net.layer4(net.layer3(net.layer2(net.layer1(x))))
        return torch.flatten(net.avgpool(x), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N,) for images (N, C, H, W): ``head(embed(x))``."""
        return self.head(self.embed(x)).squeeze(1)


def build_cnn(blocks: int, *, in_channels: int = 1) -> SimpleCNN:
    """The study's CNN1 (``blocks=1``) or CNN3 (``blocks=3``), freshly initialised.

    Raises
    ------
    ConfigError
        A number of blocks other than 1 or 3.
    """
    if isinstance(blocks, bool) or not isinstance(blocks, int) or blocks not in CNN_BLOCKS:
        raise ConfigError(f"CNN blocks {blocks!r}: expected one of {', '.join(map(str, CNN_BLOCKS))}")
    return SimpleCNN(blocks, in_channels=in_channels)


def build_resnet(name: str, *, in_channels: int = 1, weights: str | Path | None = None) -> ResNetClassifier:
    """ResNet18, 50 or 101 with ``in_channels`` inputs and one logit out.

    Parameters
    ----------
    name
        ``resnet18``, ``resnet50`` or ``resnet101``.
    in_channels
        Image channels.
    weights
        A local file with torchvision's ImageNet state dict for this ResNet (RGB, 1000-class
        head); ``None`` trains from scratch. The head is dropped, the first convolution adapted.

    Raises
    ------
    ConfigError
        Unknown name.
    InputDataError
        A weights file that is missing, unreadable or not this ResNet's.
    """
    if name not in RESNETS:
        raise ConfigError(f"ResNet '{name}': expected one of {', '.join(RESNETS)}")
    net = RESNETS[name](weights=None, num_classes=1)
    if in_channels != 3:
        net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")  # as torchvision
    if weights is not None:
        load_imagenet_weights(net, Path(weights), head=IMAGENET_HEAD)
    return ResNetClassifier(net)
