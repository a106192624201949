import pytest
import segmentation_models_pytorch as smp
import torch
from safetensors.torch import save_file

from stainworth.errors import InputDataError
from stainworth.stainers.adapters import trainable_parameters
from stainworth.stainers.efficientunet import build_efficientunet


@pytest.fixture(scope="module")
def rgb_encoder_file(tmp_path_factory):
    """An RGB EfficientNet-b0 encoder state dict, as ImageNet weights would be stored."""
    torch.manual_seed(1)
    encoder = smp.Unet("efficientnet-b0", encoder_weights=None, in_channels=3, classes=1).encoder
    path = tmp_path_factory.mktemp("weights") / "efficientnet-b0.safetensors"
    state = {k: v.contiguous() for k, v in encoder.state_dict().items()}
    state |= {"_fc.weight": torch.zeros(1000, 1280), "_fc.bias": torch.zeros(1000)}  # ImageNet classifier head
    save_file(state, str(path))
    return path, encoder.state_dict()


@pytest.mark.parametrize("shape", [(2, 1, 80, 80), (1, 1, 50, 70), (1, 1, 64, 64)])
def test_any_image_size_maps_one_channel_to_one(shape):
    net = build_efficientunet("efficientnet-b0").eval()
    with torch.no_grad():
        assert net(torch.rand(shape)).shape == shape


def test_capacity_grows_with_the_encoder():
    assert trainable_parameters(build_efficientunet("efficientnet-b0")) < trainable_parameters(
        build_efficientunet("efficientnet-b2"))


def test_imagenet_weights_load_with_the_first_convolution_summed_over_rgb(rgb_encoder_file):
    path, rgb = rgb_encoder_file
    encoder = build_efficientunet("efficientnet-b0", encoder_weights=path).net.encoder
    state = encoder.state_dict()
    assert torch.allclose(state["_conv_stem.weight"], rgb["_conv_stem.weight"].sum(dim=1, keepdim=True))
    assert torch.equal(state["_blocks.3._depthwise_conv.weight"], rgb["_blocks.3._depthwise_conv.weight"])


def test_weights_that_do_not_fit_or_do_not_exist_are_refused(rgb_encoder_file, tmp_path):
    path, _ = rgb_encoder_file
    with pytest.raises(InputDataError, match="does not fit the encoder"):
        build_efficientunet("efficientnet-b1", encoder_weights=path)
    with pytest.raises(InputDataError, match="encoder weights file not found"):
        build_efficientunet("efficientnet-b0", encoder_weights=tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a state dict")
    with pytest.raises(InputDataError, match="junk.pt: not a readable state dict"):
        build_efficientunet("efficientnet-b0", encoder_weights=tmp_path / "junk.pt")
    with pytest.raises(InputDataError, match="encoder 'resnet18'; expected one of"):
        build_efficientunet("resnet18")
