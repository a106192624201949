"""Capacity as the study measures it: the number of trainable parameters of a network."""

from __future__ import annotations

from torch import nn


def trainable_parameters(module: nn.Module) -> int:
    """Number of trainable parameters (the study's measure of capacity)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
