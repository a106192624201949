"""Where networks train and predict: the task's GPU when it has one, else the CPU.

On a cluster, the training and staining tasks run on the GPU node pool with one GPU each (see
docs/deploy.md); everywhere else they run on the CPU. ``device: auto`` (the default of both
training sections) picks CUDA when torch sees a device and the CPU otherwise; ``cpu`` and
``cuda`` force one (``cuda`` without a device is refused before any work starts). Data stay on
the CPU until a batch enters the network; outputs come back to the CPU as float32. Results are
bit-identical between runs on the CPU (the project's determinism contract); on a GPU,
cuDNN's kernels are not guaranteed to be, and the unit and stainer manifests record the device
that produced them.
"""

from __future__ import annotations

import contextlib
import types
from typing import get_args

import torch

from stainworth.contracts.base import DeviceName
from stainworth.errors import ConfigError


def resolve_device(name: str = "auto") -> torch.device:
    """The device ``name`` stands for on this machine.

    Raises
    ------
    ConfigError
        An unknown name, or ``cuda`` where torch sees no CUDA device.
    """
    if name not in get_args(DeviceName):
        raise ConfigError(f"device '{name}': expected one of {', '.join(get_args(DeviceName))}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda': torch sees no CUDA device on this node "
                          "(torch.cuda.is_available() is False); use 'auto' or 'cpu'")
    return torch.device(name)


def module_device(module: torch.nn.Module) -> torch.device:
    """The device of a module's first parameter or buffer (the CPU for a module without either)."""
    for tensor in (*module.parameters(), *module.buffers()):
        return tensor.device
    return torch.device("cpu")


def autocast(enabled: bool, device: torch.device | str = "cpu") -> contextlib.AbstractContextManager[object]:
    """bfloat16 autocast on ``device`` when ``enabled``, else nothing."""
    kind = torch.device(device).type
    return torch.autocast(kind, dtype=torch.bfloat16) if enabled else contextlib.nullcontext()


def grouped_convolutions_in_float32(net: torch.nn.Module) -> torch.nn.Module:
    """Run every grouped (depthwise) ``Conv2d`` of ``net`` in float32 under CPU bfloat16 autocast.

    oneDNN's bfloat16 backward of a depthwise convolution in channels-last layout is several times
    slower than its float32 one on the CPU (a 5×5 depthwise convolution over 1,152 channels of
    7×7, batch 16: 42 ms against 8.9 ms forward and backward, one thread), so an EfficientNet
    encoder trains faster with those layers left in float32 while its dense convolutions and the
    decoder use bfloat16 (EfficientUNet0 at 96², batch 16: 0.29 s per step against 0.43 s). On
    other devices, and without CPU autocast, the layers run as built. The weights and their names
    are unchanged (only each layer's ``forward`` is wrapped), so checkpoints load either way.
    Returns ``net``.
    """
    for module in net.modules():
        if isinstance(module, torch.nn.Conv2d) and module.groups > 1:
            module.forward = types.MethodType(_float32_forward, module)  # type: ignore[method-assign]
    return net


def _float32_forward(self: torch.nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    if x.device.type != "cpu" or not torch.is_autocast_enabled("cpu"):
        return type(self).forward(self, x)
    with torch.autocast("cpu", enabled=False):
        return type(self).forward(self, x.float())
