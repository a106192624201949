"""Any input size for networks that need sides divisible by a multiple: pad, run, crop back."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

Pads = tuple[int, int, int, int]
"""(left, right, top, bottom), the order of :func:`torch.nn.functional.pad`."""


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, Pads]:
    """Pad (N, C, H, W) so H and W are multiples of ``multiple``, split evenly between the sides.

    Reflection padding where the image is large enough (no artificial edges for convolutions to
    respond to), replication otherwise.
    """
    height, width = int(x.shape[-2]), int(x.shape[-1])
    extra_y, extra_x = -height % multiple, -width % multiple
    pads = (extra_x // 2, extra_x - extra_x // 2, extra_y // 2, extra_y - extra_y // 2)
    if not any(pads):
        return x, pads
    return edge_pad(x, pads), pads


def edge_pad(x: torch.Tensor, pads: Pads) -> torch.Tensor:
    """Pad (N, C, H, W) by ``pads`` with the image's own content, never with zeros.

    Reflection where every pad is smaller than its side, replication otherwise (a side of one or
    two pixels, as in the deepest levels of an encoder on a small patch).
    """
    height, width = int(x.shape[-2]), int(x.shape[-1])
    mode = "reflect" if max(pads[0], pads[1]) < width and max(pads[2], pads[3]) < height else "replicate"
    return F.pad(x, pads, mode=mode)


def crop_back(y: torch.Tensor, pads: Pads) -> torch.Tensor:
    """Undo :func:`pad_to_multiple` on an output of the padded size."""
    left, right, top, bottom = pads
    return y[..., top:y.shape[-2] - bottom, left:y.shape[-1] - right]


class EdgePad(nn.Module):
    """:func:`edge_pad` as a layer: pads (left, right, top, bottom) with the image's own content."""

    def __init__(self, pads: Pads) -> None:
        super().__init__()
        self.pads = tuple(int(p) for p in pads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` padded by :attr:`pads`."""
        return edge_pad(x, self.pads)  # type: ignore[arg-type]

    def extra_repr(self) -> str:
        """The pads, in the layer's printed form."""
        return f"pads={self.pads}"


class PadToMultiple(nn.Module):
    """Wrap a network so it accepts any (N, C, H, W): pad to ``multiple``, run, crop back.

    Parameters
    ----------
    net
        The wrapped network (its state dict keys gain the prefix ``net.``).
    multiple
        Side multiple the network needs (32 for a five-level U-Net).
    """

    def __init__(self, net: nn.Module, multiple: int) -> None:
        super().__init__()
        self.net, self.multiple = net, int(multiple)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Output of the input's size."""
        padded, pads = pad_to_multiple(x, self.multiple)
        return crop_back(self.net(padded), pads)
