import shutil

import pytest
import torch
import torch.nn.functional as F
import torchvision
from safetensors.torch import save_file
from torch import nn

from stainworth.errors import ConfigError, InputDataError
from stainworth.nets.parameters import trainable_parameters
from stainworth.nets.weights import adapt_rgb_kernel
from stainworth.tasks import build_task_net
from stainworth.tasks.classifiers import (
    POOLED_SIZE,
    ResNetClassifier,
    SimpleCNN,
    build_cnn,
    build_resnet,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def imagenet_resnet18(tmp_path_factory):
    """torchvision's RGB ResNet18 state dict with its 1000-class head, as ImageNet weights are stored."""
    torch.manual_seed(5)
    state = torchvision.models.resnet18(weights=None).state_dict()
    folder = tmp_path_factory.mktemp("weights")
    torch.save(state, folder / "resnet18.pth")
    save_file({k: v.contiguous() for k, v in state.items()}, str(folder / "resnet18.safetensors"))
    yield folder, state
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def cnns():
    torch.manual_seed(0)
    return {blocks: build_cnn(blocks).eval() for blocks in (1, 3)}


@pytest.mark.parametrize("blocks", [1, 3])
def test_cnn_blocks_follow_the_study(cnns, blocks):
    net = cnns[blocks]
    assert isinstance(net, SimpleCNN) and len(net.features) == blocks
    for block in net.features:
        assert [type(layer) for layer in block] == [nn.Conv2d, nn.ReLU, nn.MaxPool2d]
    assert net.head.out_features == 1


def test_cnn1_has_the_hand_counted_parameters():
    conv, dense = 1 * 16 * 9 + 16, 16 * POOLED_SIZE**2 + 1
    assert trainable_parameters(build_cnn(1)) == conv + dense == 417


@pytest.mark.parametrize("size", [(16, 16), (64, 64), (70, 90), (192, 192)])
@pytest.mark.parametrize("blocks", [1, 3])
def test_one_cnn_takes_any_crop_size(cnns, blocks, size):
    with torch.no_grad():
        out = cnns[blocks](torch.rand(2, 1, *size))
    assert out.shape == (2,) and torch.isfinite(out).all()


def test_a_batch_of_one_gives_one_logit(cnns):
    with torch.no_grad():
        assert cnns[3](torch.rand(1, 1, 32, 32)).shape == (1,)


def test_resnet_has_a_one_channel_stem_and_a_one_logit_head():
    net = build_resnet("resnet18")
    assert isinstance(net, ResNetClassifier)
    assert net.net.conv1.weight.shape == (64, 1, 7, 7) and net.net.fc.out_features == 1
    net.eval()
    with torch.no_grad():
        assert net(torch.rand(2, 1, 40, 56)).shape == (2,)
    assert build_resnet("resnet18", in_channels=3).net.conv1.weight.shape == (64, 3, 7, 7)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_imagenet_weights_load_with_the_stem_summed_over_colour(imagenet_resnet18, suffix):
    folder, rgb = imagenet_resnet18
    torch.manual_seed(1)
    fresh_fc = build_resnet("resnet18").net.fc.weight
    torch.manual_seed(1)
    net = build_task_net("resnet18", weights=folder / f"resnet18{suffix}").net
    state = net.state_dict()
    assert torch.allclose(state["conv1.weight"], rgb["conv1.weight"].sum(dim=1, keepdim=True))
    for key in ("layer3.1.conv2.weight", "bn1.running_var", "layer4.0.downsample.1.bias"):
        assert torch.equal(state[key], rgb[key])
    assert state["fc.weight"].shape == (1, 512)  # the ImageNet head is dropped, the logit head kept
    assert torch.equal(state["fc.weight"], fresh_fc)


def test_three_channel_weights_load_unchanged(imagenet_resnet18):
    folder, rgb = imagenet_resnet18
    state = build_resnet("resnet18", in_channels=3, weights=folder / "resnet18.pth").net.state_dict()
    assert torch.equal(state["conv1.weight"], rgb["conv1.weight"])


@pytest.mark.parametrize("in_channels", [1, 2, 3, 5])
def test_an_adapted_kernel_answers_a_grey_image_as_the_rgb_kernel(in_channels):
    torch.manual_seed(2)
    kernel, grey = torch.randn(4, 3, 3, 3), torch.rand(1, 1, 9, 9)
    rgb = F.conv2d(grey.expand(1, 3, 9, 9), kernel)
    adapted = adapt_rgb_kernel(kernel, in_channels)
    assert adapted.shape == (4, in_channels, 3, 3)
    assert torch.allclose(F.conv2d(grey.expand(1, in_channels, 9, 9), adapted), rgb, atol=1e-5)


def test_weights_of_another_network_are_refused(imagenet_resnet18, tmp_path):
    _, rgb = imagenet_resnet18
    wrong = dict(rgb) | {"layer1.0.conv1.weight": torch.zeros(64, 64, 1, 1)}
    torch.save(wrong, tmp_path / "wrong.pth")
    with pytest.raises(InputDataError, match=r"wrong.pth: does not fit the ResNet \(wrong shape "
                                             r"\['layer1.0.conv1.weight'\]\)$"):
        build_resnet("resnet18", weights=tmp_path / "wrong.pth")
    partial = {k: v for k, v in rgb.items() if not k.startswith("layer4")}
    torch.save(partial | {"extra.weight": torch.zeros(1)}, tmp_path / "partial.pth")
    with pytest.raises(InputDataError, match=r"partial.pth: does not fit the ResNet \(missing \['layer4.0.bn1.bias', "
                                             r".*\]...; unexpected \['extra.weight'\]\)$"):
        build_resnet("resnet18", weights=tmp_path / "partial.pth")


def test_unreadable_weights_are_refused(tmp_path):
    (tmp_path / "junk.pth").write_bytes(b"not a state dict")
    with pytest.raises(InputDataError, match="junk.pth: not a readable state dict"):
        build_resnet("resnet18", weights=tmp_path / "junk.pth")
    torch.save([1, 2, 3], tmp_path / "list.pth")
    with pytest.raises(InputDataError, match="list.pth: expected a state dict of tensors; found list"):
        build_resnet("resnet18", weights=tmp_path / "list.pth")
    with pytest.raises(InputDataError, match="absent.pth: weights file not found"):
        build_resnet("resnet50", weights=tmp_path / "absent.pth")


@pytest.mark.parametrize("blocks", [0, 2, 4, 1.0])
def test_other_cnn_depths_are_refused(blocks):
    with pytest.raises(ConfigError, match=rf"^CNN blocks {blocks!r}: expected one of 1, 3$"):
        build_cnn(blocks)


def test_other_resnets_are_refused():
    with pytest.raises(ConfigError, match="^ResNet 'resnet34': expected one of resnet18, resnet50, resnet101$"):
        build_resnet("resnet34")
