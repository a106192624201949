"""The study's EfficientUNet: a U-Net with an EfficientNet encoder, one channel in and one out.

Built with segmentation-models-pytorch (``smp.Unet``), linear output (the target is normalised
fluorescence, not a probability). ImageNet encoder weights are used only when the user supplies
them as a file: nothing is downloaded. They are RGB weights; the first convolution is adapted to
one input channel by summing its kernels over the colour axis, as smp does for ``in_channels=1``
(a grey image ``g`` then gives the response of the RGB image ``(g, g, g)``).
"""

from __future__ import annotations

from pathlib import Path

import segmentation_models_pytorch as smp
import torch

from stainworth.errors import InputDataError
from stainworth.stainers.padding import PadToMultiple

ENCODERS = tuple(f"efficientnet-b{k}" for k in range(8))
MULTIPLE = 32
CLASSIFIER_HEAD = "_fc."
"""Keys of the ImageNet classifier in EfficientNet checkpoints (the encoder has no classifier)."""


def build_efficientunet(encoder: str = "efficientnet-b0", *, encoder_weights: str | Path | None = None
                        ) -> PadToMultiple:
    """U-Net(EfficientNet encoder), 1 -> 1 channel, accepting any image size.

    Parameters
    ----------
    encoder
        ``efficientnet-b0`` .. ``efficientnet-b7`` (the study used b7).
    encoder_weights
        A local file with the encoder's ImageNet state dict (safetensors, or a PyTorch state dict
        loadable with ``weights_only=True``), as smp names its keys; ``None`` trains from scratch.

    Raises
    ------
    InputDataError
        Unknown encoder, or a weights file that is missing or does not fit the encoder.
    """
    if encoder not in ENCODERS:
        raise InputDataError(f"EfficientUNet encoder '{encoder}'; expected one of {list(ENCODERS)}")
    net = smp.Unet(encoder, encoder_weights=None, in_channels=1, classes=1, activation=None)
    if encoder_weights is not None:
        load_encoder_weights(net.encoder, Path(encoder_weights))
    return PadToMultiple(net, MULTIPLE)


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise InputDataError(f"{path}: encoder weights file not found")
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


def load_encoder_weights(encoder: torch.nn.Module, path: Path) -> None:
    """Load RGB ImageNet weights into a one-channel encoder (first convolution summed over RGB)."""
    state = {k: v for k, v in _read_state_dict(path).items() if not k.startswith(CLASSIFIER_HEAD)}
    own = encoder.state_dict()
    for key, value in state.items():
        if key in own and value.dim() == 4 and value.shape[1] == 3 and own[key].shape[1] == 1:
            state[key] = value.sum(dim=1, keepdim=True)
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        detail = "; ".join(f"{name} {keys[:3]}{'...' if len(keys) > 3 else ''}" for name, keys in
                           (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)) if keys)
        raise InputDataError(f"{path}: does not fit the encoder ({detail})")
    encoder.load_state_dict(state)
