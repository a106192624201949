"""Example networks of your own, for ``py:`` names (``docs/your_own.md``).

``py:stainworth.tasks.examples:tiny_cnn`` is a classifier and ``py:stainworth.tasks.examples:tiny_segmenter``
a segmentation network; both take ``in_channels`` and any image size. Copy one into a module of
your own as a starting point.
"""

from __future__ import annotations

import torch
from torch import nn


class TinyCNN(nn.Module):
    """Two conv-ReLU-max-pool blocks (8, 16 channels), global average pooling, one logit (N, 1)."""

    def __init__(self, in_channels: int = 1) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(16, 1)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The 16 pooled features the logit is computed from."""
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, 1)."""
        return self.head(self.embed(x))


def tiny_cnn(in_channels: int = 1) -> nn.Module:
    """A classifier of 1,265 trainable parameters (one input channel)."""
    return TinyCNN(in_channels)


def tiny_segmenter(in_channels: int = 1) -> nn.Module:
    """Three 3x3 convolutions (8, 8 channels) to one logit per pixel, (N, 1, H, W); no pooling, any size."""
    return nn.Sequential(nn.Conv2d(in_channels, 8, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 1, 3, padding=1))
