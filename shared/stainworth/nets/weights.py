"""Pretrained weights a user supplies as a local file: read safely and fitted to a network.

Nothing is downloaded. A weights file is a safetensors file or a PyTorch state dict loadable with
``torch.load(..., weights_only=True)``. ImageNet weights are RGB: a first convolution that takes
another channel count gets the colour-summed kernel (:func:`adapt_rgb_kernel`), as
segmentation-models-pytorch does for grey inputs.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from stainworth.errors import InputDataError


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file or a ``weights_only`` PyTorch state dict.

    Raises
    ------
    InputDataError
        Missing file, unreadable file, or a file that holds something other than named tensors.
    """
    if not path.is_file():
        raise InputDataError(f"{path}: weights file not found")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return dict(load_file(str(path)))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same one line
        raise InputDataError(f"{path}: not a readable state dict ({type(error).__name__}: {error})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputDataError(f"{path}: expected a state dict of tensors; found {type(state).__name__}")
    return state


def adapt_rgb_kernel(kernel: torch.Tensor, in_channels: int) -> torch.Tensor:
    """An RGB convolution kernel (out, 3, kh, kw) made to take ``in_channels`` inputs.

    Three channels: unchanged. Otherwise every channel gets the kernel summed over the colour
    axis, divided by ``in_channels``: an image whose channels all equal ``g`` answers as the RGB
    image ``(g, g, g)`` (for one channel, the plain colour sum, as smp does for grey inputs).
    """
    if in_channels == 3:
        return kernel
    grey = kernel.sum(dim=1, keepdim=True) / in_channels
    return grey.expand(-1, in_channels, -1, -1).clone()


def load_imagenet_weights(module: nn.Module, path: Path, *, head: tuple[str, ...] = ()) -> None:
    """Load an RGB ImageNet state dict into ``module``, adapting RGB kernels, skipping the ``head`` keys.

    Parameters
    ----------
    module
        The network (or encoder) to fill; its keys starting with a ``head`` prefix keep their
        fresh initialisation.
    path
        Safetensors file or a state dict loadable with ``torch.load(..., weights_only=True)``.
    head
        Key prefixes of the ImageNet classifier, ignored in the file and in ``module``.

    Raises
    ------
    InputDataError
        Missing or unreadable file, or keys and shapes that do not fit ``module``.
    """
    state = {k: v for k, v in read_state_dict(path).items() if not k.startswith(head)}
    own = {k: v for k, v in module.state_dict().items() if not k.startswith(head)}
    for key, value in state.items():
        if key in own and value.dim() == 4 and value.shape[1] == 3 and own[key].shape[1] != 3:
            state[key] = adapt_rgb_kernel(value, own[key].shape[1])
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        detail = "; ".join(f"{label} {keys[:3]}{'...' if len(keys) > 3 else ''}" for label, keys in
                           (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)) if keys)
        raise InputDataError(f"{path}: does not fit the {type(module).__name__} ({detail})")
    module.load_state_dict(state, strict=False)
