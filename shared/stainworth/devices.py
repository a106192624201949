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
