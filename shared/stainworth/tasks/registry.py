"""Task networks by name: the study's two capacity ladders, segmentation and classification.

Segmentation (logits (N, 1, H, W) for images (N, C, H, W) of any size, H, W >= 16): ``unet1``,
``unet2``, ``unet3`` (:mod:`stainworth.tasks.unet`), ``efficientunet0``, ``efficientunet7``
(:func:`stainworth.nets.efficientunet.build_efficientunet`: smp ``Unet`` with an
EfficientNet-b0 / -b7 encoder and a linear one-channel output, i.e. a logit). Classification
(logits (N,)): ``cnn1``, ``cnn3``, ``resnet18``, ``resnet50``, ``resnet101``
(:mod:`stainworth.tasks.classifiers`). The study trained UNet1-3 and CNN1/3 from scratch and
initialised the others with ImageNet weights; here those weights come from a local file or not at
all. Capacity is the number of trainable parameters (:func:`capacity`).

Beside the ladders, a task takes networks of your own (:mod:`stainworth.tasks.user_nets`):
``timm:<model>``, ``smp:<Arch>/<encoder>`` and ``py:<module>:<function>``, on the same capacity
axis. :func:`check_task_networks` builds and probes them before a run starts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from stainworth.contracts.profile import Profile
from stainworth.contracts.task import LADDERS, TASKS, Task, user_network_kind
from stainworth.errors import ConfigError
from stainworth.nets.efficientunet import build_efficientunet
from stainworth.nets.parameters import trainable_parameters
from stainworth.tasks.classifiers import build_cnn, build_resnet
from stainworth.tasks.unet import build_unet
from stainworth.tasks.user_nets import build_user_net, check_user_net, probe_user_net, user_task

Builder = Callable[[int, Path | None], nn.Module]
"""``(in_channels, weights) -> network``."""


@dataclass(frozen=True)
class TaskNetSpec:
    """What the registry knows about one task network."""

    task: Task
    """``"segmentation"`` or ``"classification"``."""
    family: str
    """``"unet"``, ``"efficientunet"``, ``"cnn"`` or ``"resnet"``."""
    description: str
    """One line for tables and reports."""
    imagenet: bool
    """Accepts ImageNet weights (the study initialised it with them); otherwise from scratch only."""
    build: Builder = field(repr=False, compare=False)
    """Constructor, called as ``build(in_channels, weights)``."""


def _efficientunet(encoder: str) -> Builder:
    return lambda c, w: build_efficientunet(encoder, in_channels=c, encoder_weights=w)


TASK_NETS: dict[str, TaskNetSpec] = {
    "cnn1": TaskNetSpec("classification", "cnn", "one conv-ReLU-max-pool block, dense layer to one logit",
                        False, lambda c, w: build_cnn(1, in_channels=c)),
    "cnn3": TaskNetSpec("classification", "cnn", "three conv-ReLU-max-pool blocks, dense layer to one logit",
                        False, lambda c, w: build_cnn(3, in_channels=c)),
    "resnet18": TaskNetSpec("classification", "resnet", "torchvision ResNet18, one-logit head",
                            True, lambda c, w: build_resnet("resnet18", in_channels=c, weights=w)),
    "resnet50": TaskNetSpec("classification", "resnet", "torchvision ResNet50, one-logit head",
                            True, lambda c, w: build_resnet("resnet50", in_channels=c, weights=w)),
    "resnet101": TaskNetSpec("classification", "resnet", "torchvision ResNet101, one-logit head",
                             True, lambda c, w: build_resnet("resnet101", in_channels=c, weights=w)),
    "unet1": TaskNetSpec("segmentation", "unet", "U-Net of one conv block and one deconv block",
                         False, lambda c, w: build_unet(1, in_channels=c)),
    "unet2": TaskNetSpec("segmentation", "unet", "U-Net of two conv blocks and two deconv blocks",
                         False, lambda c, w: build_unet(2, in_channels=c)),
    "unet3": TaskNetSpec("segmentation", "unet", "U-Net of three conv blocks and three deconv blocks",
                         False, lambda c, w: build_unet(3, in_channels=c)),
    "efficientunet0": TaskNetSpec("segmentation", "efficientunet", "smp U-Net with an EfficientNet-b0 encoder",
                                  True, _efficientunet("efficientnet-b0")),
    "efficientunet7": TaskNetSpec("segmentation", "efficientunet", "smp U-Net with an EfficientNet-b7 encoder",
                                  True, _efficientunet("efficientnet-b7")),
}
"""Every task network by name, classification ladder then segmentation ladder, each by rank."""


def ladder(task: str) -> tuple[str, ...]:
    """Names of ``task``'s networks in increasing capacity (:data:`stainworth.contracts.task.LADDERS`).

    Raises
    ------
    ConfigError
        A task other than ``segmentation`` or ``classification``.
    """
    if task not in TASKS:
        raise ConfigError(f"task '{task}': expected one of {', '.join(TASKS)}")
    return LADDERS[task]


def task_net_spec(name: str) -> TaskNetSpec:
    """The spec of network ``name`` (case-insensitive).

    Raises
    ------
    ConfigError
        Unknown name; the message lists the valid ones.
    """
    spec = TASK_NETS.get(name.lower()) if isinstance(name, str) else None
    if spec is None:
        raise ConfigError(f"task network '{name}': expected one of {', '.join(TASK_NETS)}")
    return spec


def _check_in_channels(in_channels: int) -> None:
    if isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels < 1:
        raise ConfigError(f"in_channels {in_channels!r}: expected an integer >= 1 (the images' channels)")


def build_task_net(name: str, *, in_channels: int = 1, weights: str | Path | None = None,
                   task: str | None = None, image_px: int | tuple[int, int] | None = None) -> nn.Module:
    """Task network ``name``, freshly initialised from torch's global seed.

    Parameters
    ----------
    name
        One of :data:`TASK_NETS` (case-insensitive), e.g. ``"unet2"`` or ``"resnet18"``, or a
        network of your own (``timm:<model>``, ``smp:<Arch>/<encoder>``, ``py:<module>:<function>``,
        :func:`~stainworth.tasks.user_nets.build_user_net`).
    in_channels
        Channels of the input images (1 for a label-free, virtual or fluorescence image).
    weights
        Local file of ImageNet weights (safetensors or a ``weights_only`` state dict): a
        torchvision ResNet state dict for ``resnet*``, an smp EfficientNet encoder state dict for
        ``efficientunet*``. RGB first convolutions are summed over colour for one channel; the
        ImageNet classifier is dropped. ``None``: from scratch.
    task
        If given, the task the caller needs; a network of the other task is refused (a ``py:``
        network needs it).
    image_px
        If given, a user network is probed with one forward pass of a 1-channel image of this
        size (:func:`~stainworth.tasks.user_nets.probe_user_net`).

    Returns
    -------
    net : torch.nn.Module
        Segmentation: (N, C, H, W) -> logits (N, 1, H, W), any H, W >= 16. Classification:
        (N, C, H, W) -> logits (N,). Apply the sigmoid in the loss (``BCEWithLogitsLoss``).

    Raises
    ------
    ConfigError
        Unknown name or task, a network of the wrong task, ``in_channels`` < 1, or weights for
        a network the study trained from scratch only.
    InputDataError
        A weights file that is missing, unreadable or does not fit the network.
    """
    if user_network_kind(name):
        _check_in_channels(in_channels)
        chosen = user_task(name, task)
        net = build_user_net(name, task=chosen, in_channels=in_channels,
                             weights=None if weights is None else Path(weights))
        if image_px is not None:
            probe_user_net(net, name, task=chosen, image_px=image_px, in_channels=in_channels)
        return net
    spec = task_net_spec(name)
    if task is not None:
        suitable = ladder(task)
        if task != spec.task:
            raise ConfigError(f"task network '{name}' is a {spec.task} network; {task} needs one of "
                              f"{', '.join(suitable)}")
    _check_in_channels(in_channels)
    if weights is not None and not spec.imagenet:
        raise ConfigError(f"task network '{name}' is trained from scratch (as in the study) and takes no "
                          f"ImageNet weights; got weights={str(weights)!r}")
    return spec.build(in_channels, None if weights is None else Path(weights))


@lru_cache(maxsize=64, typed=True)  # typed: in_channels=True must not hit the entry of 1
def capacity(name: str, *, in_channels: int = 1, task: str | None = None) -> int:
    """Trainable parameters of network ``name`` (the study's measure of capacity).

    Counted on a network built on the ``meta`` device: nothing is allocated or initialised, and
    torch's random state is left alone.

    Raises
    ------
    ConfigError
        Unknown name or ``in_channels`` < 1 (or a ``py:`` network without ``task``).
    """
    _check_in_channels(in_channels)
    if user_network_kind(name):
        chosen = user_task(name, task)
        with torch.random.fork_rng(devices=[]):  # some constructors draw even on the meta device
            try:
                with torch.device("meta"):
                    return trainable_parameters(build_user_net(name, task=chosen, in_channels=in_channels))
            except ConfigError:
                raise
            except Exception:  # noqa: BLE001 - a user network that cannot be built on meta is built on the CPU
                return trainable_parameters(build_user_net(name, task=chosen, in_channels=in_channels))
    spec = task_net_spec(name)
    with torch.device("meta"):
        return trainable_parameters(spec.build(in_channels, None))


def task_image_px(profile: Profile, task: str) -> int:
    """The side of ``task``'s images at ``profile``: the segmentation patch or the classification canvas."""
    extract = profile.prepare.extract
    return extract.segmentation.patch_px if task == "segmentation" else extract.classification.canvas_px


def check_task_networks(profile: Profile, tasks: Iterable[str] = TASKS) -> dict[str, int]:
    """Build and probe every network of your own that ``profile`` names for ``tasks``, before anything trains.

    Each is built without weights and run once on two 1-channel images of the task's size on the
    CPU (:func:`~stainworth.tasks.user_nets.check_user_net`); torch's random state is untouched.

    Returns
    -------
    dict
        Trainable parameters by user network name.

    Raises
    ------
    ConfigError
        One line naming the field (``tasks.<task>.architectures[i]`` or
        ``tasks.<task>.learnable.architecture``) and what was found.
    """
    counts: dict[str, int] = {}
    for task in tasks:
        sweep = profile.tasks.sweep(task)  # type: ignore[arg-type]
        fields = [(f"tasks.{task}.architectures[{k}]", name) for k, name in enumerate(sweep.architectures)]
        fields.append((f"tasks.{task}.learnable.architecture", sweep.learnable.architecture))
        for where, name in fields:
            if user_network_kind(name) and name not in counts:
                counts[name] = check_user_net(name, task=task, image_px=task_image_px(profile, task), field=where)
    return counts
