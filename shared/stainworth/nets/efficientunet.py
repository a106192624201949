"""The study's EfficientUNet: a U-Net with an EfficientNet encoder, one channel in and one out.

Built with segmentation-models-pytorch (``smp.Unet``), linear output (the target is normalised
fluorescence, not a probability). ImageNet encoder weights are used only when the user supplies
them as a file: nothing is downloaded. They are RGB weights; the first convolution is adapted to
one input channel by summing its kernels over the colour axis, as smp does for ``in_channels=1``
(a grey image ``g`` then gives the response of the RGB image ``(g, g, g)``).

Batch normalisation momentum: the EfficientNet encoders keep the reference implementation's
running-average momentum of 0.01 (TensorFlow's decay 0.99). Their running statistics then trail
the weights by a few hundred steps, so after a short training from scratch the network in
evaluation mode (running statistics) differs from the one that was trained (batch statistics):
on the real ISL example an EfficientUNet that fitted its training batches with a correlation of
0.97 predicted a nearly blank image in evaluation mode. Every batch-norm layer is therefore set
to PyTorch's default momentum, :data:`BATCH_NORM_MOMENTUM`.

Group normalisation (``norm="group"``) replaces every batch-norm layer by a group norm of
:data:`GROUPS` groups (Wu and He 2018). Batch statistics of small patches vary from batch to
batch, and in training a batch-norm layer divides an item's unusually strong features by the
variance they inflate; in evaluation the running statistics do not, so a few test items come out
far too bright (measured on the `mini` segmentation patches: test MSE 0.044 in evaluation mode
against 0.010 with batch statistics, one patch predicted at 10x the target's maximum; re-estimating
the running statistics over the training set only halved it). Group normalisation computes the
same thing in training and evaluation.

Padding (``padding="edge"``, the default): smp's EfficientNet pads like TensorFlow's ``"same"``,
with zeros, and a stride-2 layer on an even side pads only the right and bottom (one pixel for a
3×3 kernel, (1, 2) for a 5×5). Over the encoder's five stride-2 layers the bottom-right corner
sees a zero border the other corners never see, and a trained stainer learns it: on the `mini`
segmentation patches (64²) its mean absolute error in the bottom-right 8×8 corner was 2.9× that
of the centre, biased dark by 40 grey levels, and a constant input came out 43% darker there
(docs/stainers.md). Those one-sided paddings therefore keep their sizes but are filled with the
feature map's own content (:func:`edge_padded`: reflection, or replication where a map is too
small to reflect); the symmetric zero paddings of the stride-1 layers and the decoder stay, so
the four borders are treated alike, and a constant image stays constant through the strided
layers. Padding every layer with content made training unstable: in the deepest levels a 2×2
map replicated into 6×6 for a 5×5 kernel hands each pixel the gradients of nine positions (on
the `mini` patches three such trainings, two seeds at 4e-3 and one at 2e-3, reached a best
validation SSIM of 0.68–0.76 in 16–20 epochs, where zero padding reached 0.91 by epoch 19).
The sampling grid of a strided layer on an even side still has an orientation, and a trained
network can still err in one corner of its frame (measured: the top-right one); averaging over
the training symmetries at staining time removes that (:mod:`stainworth.stainers.symmetry`).
``padding="zeros"`` keeps smp's layers as they are.

The encoder's depthwise convolutions run in float32 under CPU bfloat16 autocast
(:func:`~stainworth.nets.devices.grouped_convolutions_in_float32`): 1.5× faster training on the CPU.
"""

from __future__ import annotations

from pathlib import Path

import segmentation_models_pytorch as smp
import torch

from stainworth.errors import InputDataError
from stainworth.nets.devices import grouped_convolutions_in_float32
from stainworth.nets.padding import EdgePad, PadToMultiple
from stainworth.nets.weights import load_imagenet_weights

ENCODERS = tuple(f"efficientnet-b{k}" for k in range(8))
PADDINGS = ("edge", "zeros")
MULTIPLE = 32
GROUPS = 8
"""Groups of :func:`group_normalised` (every EfficientNet and U-Net decoder width is a multiple of 8)."""
BATCH_NORM_MOMENTUM = 0.1
"""Running-statistics momentum of every batch-norm layer (see the module docstring)."""
CLASSIFIER_HEAD = "_fc."
"""Keys of the ImageNet classifier in EfficientNet checkpoints (the encoder has no classifier)."""


def build_efficientunet(encoder: str = "efficientnet-b0", *, in_channels: int = 1,
                        encoder_weights: str | Path | None = None, norm: str = "batch",
                        padding: str = "edge") -> PadToMultiple:
    """U-Net(EfficientNet encoder), ``in_channels`` -> 1 channel, accepting any image size.

    Parameters
    ----------
    encoder
        ``efficientnet-b0`` .. ``efficientnet-b7`` (the study used b7).
    in_channels
        Input channels (1 for a stainer; RGB encoder weights are adapted by
        :func:`~stainworth.nets.weights.adapt_rgb_kernel`).
    encoder_weights
        A local file with the encoder's ImageNet state dict (safetensors, or a PyTorch state dict
        loadable with ``weights_only=True``), as smp names its keys; ``None`` trains from scratch.
    norm
        ``"batch"`` (the EfficientNet's own) or ``"group"`` (:func:`group_normalised`; not with
        ``encoder_weights``).
    padding
        ``"edge"`` (the encoder's one-sided paddings are filled with the map's own content;
        :func:`edge_padded`) or ``"zeros"`` (smp's: zeros everywhere).

    Raises
    ------
    InputDataError
        Unknown encoder, norm or padding, group norm with encoder weights, or a weights file that is missing
        or does not fit the encoder.
    """
    if encoder not in ENCODERS:
        raise InputDataError(f"EfficientUNet encoder '{encoder}'; expected one of {list(ENCODERS)}")
    if norm not in ("batch", "group"):
        raise InputDataError(f"EfficientUNet norm '{norm}'; expected 'batch' or 'group'")
    if padding not in PADDINGS:
        raise InputDataError(f"EfficientUNet padding '{padding}'; expected one of {list(PADDINGS)}")
    if norm == "group" and encoder_weights is not None:
        raise InputDataError(f"EfficientUNet norm 'group' with encoder weights {encoder_weights}: ImageNet weights "
                             "carry batch-norm statistics; expected norm 'batch'")
    net = smp.Unet(encoder, encoder_weights=None, in_channels=in_channels, classes=1, activation=None)
    for module in net.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.momentum = BATCH_NORM_MOMENTUM
    if encoder_weights is not None:
        load_imagenet_weights(net.encoder, Path(encoder_weights), head=(CLASSIFIER_HEAD,))
    if norm == "group":
        net = group_normalised(net)
    if padding == "edge":
        net = edge_padded(net)
    return PadToMultiple(grouped_convolutions_in_float32(net), MULTIPLE)


def group_normalised(module: torch.nn.Module, groups: int = GROUPS) -> torch.nn.Module:
    """``module`` with every batch-norm layer replaced, in place, by a GroupNorm of ``groups`` groups.

    The group norm keeps the layer's affine setting and epsilon; its scale starts at 1 and its
    shift at 0 (a fresh layer). Channel counts must be multiples of ``groups``.
    """
    for name, child in module.named_children():
        if isinstance(child, torch.nn.modules.batchnorm._BatchNorm):
            if child.num_features % groups:
                raise InputDataError(f"group norm: layer '{name}' has {child.num_features} channels; expected a "
                                     f"multiple of {groups}")
            setattr(module, name, torch.nn.GroupNorm(groups, child.num_features, eps=child.eps, affine=child.affine))
        else:
            group_normalised(child, groups)
    return module


def edge_padded(net: torch.nn.Module) -> torch.nn.Module:
    """``net`` with every one-sided zero padding replaced, in place, by the map's own content.

    smp's ``Conv2dStaticSamePadding`` layers pad as TensorFlow's ``"same"``; where that padding is
    larger on one side than the other (a stride of 2 on an even side), it becomes an
    :class:`~stainworth.nets.padding.EdgePad` of the same sizes. Symmetric zero paddings stay:
    they treat the four borders alike, and padding every layer with content made training
    unstable (module docstring). Weights and their names are unchanged. Returns ``net``.
    """
    for module in net.modules():
        static = getattr(module, "static_padding", None)
        if isinstance(static, torch.nn.ZeroPad2d):
            left, right, top, bottom = static.padding
            if left != right or top != bottom:
                module.static_padding = EdgePad(static.padding)
    return net
