"""Task networks of your own: ``timm:<model>``, ``smp:<Arch>/<encoder>`` and ``py:<module>:<function>``.

A user network is built from its name (:func:`build_user_net`) with one input channel and one
output, never with downloaded weights: ``timm.create_model(model, pretrained=False, in_chans=1,
num_classes=1)``; ``smp.create_model(Arch, encoder_name=encoder, encoder_weights=None,
in_channels=1, classes=1)``; ``function(in_channels=1)`` (or ``function()`` when it takes no
``in_channels``) of an importable module. Initial weights come from a local file only
(``tasks.<task>.training.weights_uris``).

:func:`probe_user_net` runs one forward pass of a 1-channel image of the task's size on the CPU
and refuses, in one line, a network that does not take it or answers with the wrong shape:
classification (N,) or (N, 1) (a (N, 1) head is flattened to (N,)), segmentation (N, 1, H, W).
The syntax of the names is checked in :mod:`stainworth.contracts.task`.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

import torch
from torch import nn

from stainworth.contracts.task import USER_NETWORK_TASKS, Task, user_network_kind
from stainworth.errors import ConfigError
from stainworth.nets.padding import PadToMultiple
from stainworth.nets.parameters import trainable_parameters
from stainworth.nets.weights import load_imagenet_weights

SMP_HEADS = ("fc.", "_fc.", "classifier.", "last_linear.", "head.")
"""Key prefixes of an ImageNet classifier in an encoder's weights file (ignored)."""


class UserClassifier(nn.Module):
    """A user classifier whose (N,) or (N, 1) logits are returned as (N,).

    ``embed(x)``: the penultimate features, where the network exposes them (timm's
    ``forward_head(..., pre_logits=True)``, or the network's own ``embed``).
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        if callable(getattr(net, "embed", None)) or callable(getattr(net, "forward_head", None)):
            self.embed = self._embed

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N,)."""
        out = self.net(x)
        return out.reshape(out.shape[0])

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        own = getattr(self.net, "embed", None)
        if callable(own):
            return own(x).flatten(1)
        head: Any = getattr(self.net, "forward_head")  # noqa: B009 - timm's, not in nn.Module's type
        features: Any = getattr(self.net, "forward_features")  # noqa: B009
        return head(features(x), pre_logits=True).flatten(1)


def _shortened(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return f"{text[:limit]}..." if len(text) > limit else text


def _one_line(error: BaseException) -> str:
    return f"{type(error).__name__}: {_shortened(str(error))}"


def user_task(name: str, task: str | None) -> Task:
    """The task of user network ``name``: ``task`` if given, else the only task of its kind.

    Raises
    ------
    ConfigError
        Not a user network, a task its kind cannot do, or a ``py:`` network without a task.
    """
    kind = user_network_kind(name)
    if kind is None:
        raise ConfigError(f"task network '{name}': not a network of your own (timm:, smp: or py:)")
    tasks = USER_NETWORK_TASKS[kind]
    if task is None:
        if len(tasks) > 1:
            raise ConfigError(f"task network '{name}': a py: network does either task; expected task= to say which")
        return tasks[0]
    if task not in tasks:
        raise ConfigError(f"task network '{name}': {kind}: networks do {' and '.join(tasks)} only; found task {task}")
    return task  # type: ignore[return-value]


def _timm(model: str, in_channels: int, weights: Path | None, field: str) -> nn.Module:
    import timm

    if not timm.is_model(model):
        close = timm.list_models(f"*{model[:4]}*")[:5] if len(model) >= 4 else []
        raise ConfigError(f"{field}: timm:{model}: timm {timm.__version__} has no model '{model}'"
                          + (f" (similar: {', '.join(close)})" if close else ""))
    try:
        net = timm.create_model(model, pretrained=False, in_chans=in_channels, num_classes=1)
    except Exception as error:  # noqa: BLE001 - any failure of the constructor is one line
        raise ConfigError(f"{field}: timm:{model}: cannot be built with in_chans={in_channels}, num_classes=1 "
                          f"({_one_line(error)})") from None
    if weights is not None:
        config: Any = getattr(net, "pretrained_cfg", None) or {}
        classifier = config.get("classifier") or "fc"
        heads = tuple(f"{name}." for name in ([classifier] if isinstance(classifier, str) else classifier))
        load_imagenet_weights(net, weights, head=heads)
    return net


def _smp(spec: str, in_channels: int, weights: Path | None, field: str) -> nn.Module:
    import segmentation_models_pytorch as smp

    arch, _, encoder = spec.partition("/")
    try:
        net = smp.create_model(arch, encoder_name=encoder, encoder_weights=None, in_channels=in_channels, classes=1)
    except KeyError as error:
        what = str(error.args[0] if error.args else error)
        found = "architecture" if "architecture" in what else "encoder"
        shown = arch if found == "architecture" else encoder
        raise ConfigError(f"{field}: smp:{spec}: segmentation_models_pytorch {smp.__version__} has no {found} "
                          f"'{shown}' ({_shortened(what)})") from None
    except Exception as error:  # noqa: BLE001 - any failure of the constructor is one line
        raise ConfigError(f"{field}: smp:{spec}: cannot be built with in_channels={in_channels}, classes=1 "
                          f"({_one_line(error)})") from None
    if weights is not None:
        load_imagenet_weights(net.encoder, weights, head=SMP_HEADS)
    stride = int(getattr(getattr(net, "encoder", None), "output_stride", 32) or 32)
    return PadToMultiple(net, stride)


def _py(spec: str, in_channels: int, weights: Path | None, field: str) -> nn.Module:
    module_name, _, function_name = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # noqa: BLE001 - a missing module or one that fails on import
        raise ConfigError(f"{field}: py:{spec}: cannot import module '{module_name}' ({_one_line(error)}); its "
                          "module must be importable where the task runs (on a cluster: in the image)") from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise ConfigError(f"{field}: py:{spec}: module '{module_name}' has no function '{function_name}'")
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        parameters = []
    takes = any(p.name == "in_channels" or p.kind is p.VAR_KEYWORD for p in parameters)
    try:
        net = function(in_channels=in_channels) if takes else function()
    except Exception as error:  # noqa: BLE001 - the user's function failing is one line
        raise ConfigError(f"{field}: py:{spec}: the function failed ({_one_line(error)})") from None
    if not isinstance(net, nn.Module):
        raise ConfigError(f"{field}: py:{spec}: the function returned {type(net).__name__}; expected a "
                          "torch.nn.Module")
    if not takes and in_channels != 1:
        raise ConfigError(f"{field}: py:{spec}: the function takes no in_channels; only 1-channel input is possible")
    if weights is not None:
        load_imagenet_weights(net, weights)
    return net


def build_user_net(name: str, *, task: str | None = None, in_channels: int = 1, weights: Path | None = None,
                   field: str | None = None) -> nn.Module:
    """User network ``name`` for ``task``, freshly initialised from torch's global seed.

    Classifiers are wrapped in :class:`UserClassifier` (logits (N,)); smp models in
    :class:`~stainworth.nets.padding.PadToMultiple` (any image size).

    Parameters
    ----------
    weights
        A local file: for ``timm:``, the model's state dict (ImageNet RGB kernels are summed over
        colour, its classifier is ignored); for ``smp:``, the encoder's state dict with smp's key
        names (likewise); for ``py:``, the state dict of the network the function returns.
    field
        Where the name came from, to start error messages (default ``task network '<name>'``).

    Raises
    ------
    ConfigError
        One line: unknown model, architecture, encoder, module or function; a constructor that fails.
    InputDataError
        A weights file that is missing, unreadable or does not fit.
    """
    chosen = user_task(name, task)
    where = field or f"task network '{name}'"
    kind, _, spec = name.partition(":")
    build = {"timm": _timm, "smp": _smp, "py": _py}[kind]
    net = build(spec, in_channels, weights, where)
    return UserClassifier(net) if chosen == "classification" else net


def probe_user_net(net: nn.Module, name: str, *, task: str, image_px: int | tuple[int, int], in_channels: int = 1,
                   field: str | None = None) -> None:
    """One forward pass of two ``in_channels`` x ``image_px`` x ``image_px`` zero images on the CPU.

    ``image_px``: the side of the task's square images, or their (height, width).

    The network's training flag is restored and torch's random state is untouched.

    Raises
    ------
    ConfigError
        One line: the network does not take the images, or its output is not (N,) / (N, 1)
        for classification or (N, 1, H, W) for segmentation.
    """
    where = field or f"task network '{name}'"
    raw = net.net if isinstance(net, UserClassifier) else net
    height, width = (image_px, image_px) if isinstance(image_px, int) else (int(image_px[0]), int(image_px[1]))
    x = torch.zeros(2, in_channels, height, width)
    was_training = net.training
    try:
        net.eval()
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            out = raw(x)
    except Exception as error:  # noqa: BLE001 - any failure of the forward pass is one line
        raise ConfigError(f"{where}: {name} does not take a {in_channels}-channel {height}x{width} image, the "
                          f"task's image size ({_one_line(error)})") from None
    finally:
        net.train(was_training)
    shape = tuple(out.shape) if isinstance(out, torch.Tensor) else None
    if task == "classification":
        fits, expected = shape in ((2,), (2, 1)), "(N,) or (N, 1) logits"
    else:
        fits, expected = shape == (2, 1, height, width), f"(N, 1, {height}, {width}) logits"
    if not fits:
        found = f"shape {shape}" if shape is not None else f"a {type(out).__name__}"
        raise ConfigError(f"{where}: {name} returns {found} for a ({', '.join(map(str, x.shape))}) input; "
                          f"{task} needs {expected}")


def check_user_net(name: str, *, task: str, image_px: int | tuple[int, int], in_channels: int = 1,
                   field: str | None = None) -> int:
    """Build ``name`` without weights and probe it (:func:`probe_user_net`); return its trainable parameters.

    torch's random state is left as it was.
    """
    with torch.random.fork_rng(devices=[]):
        net = build_user_net(name, task=task, in_channels=in_channels, field=field)
    probe_user_net(net, name, task=task, image_px=image_px, in_channels=in_channels, field=field)
    return trainable_parameters(net)

