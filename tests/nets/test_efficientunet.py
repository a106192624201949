import pytest
import segmentation_models_pytorch as smp
import torch
from safetensors.torch import save_file

from stainworth.errors import InputDataError
from stainworth.nets.efficientunet import BATCH_NORM_MOMENTUM, build_efficientunet
from stainworth.nets.padding import EdgePad
from stainworth.nets.parameters import trainable_parameters


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
    with pytest.raises(InputDataError, match="does not fit the EfficientNetEncoder"):
        build_efficientunet("efficientnet-b1", encoder_weights=path)
    with pytest.raises(InputDataError, match="weights file not found"):
        build_efficientunet("efficientnet-b0", encoder_weights=tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a state dict")
    with pytest.raises(InputDataError, match="junk.pt: not a readable state dict"):
        build_efficientunet("efficientnet-b0", encoder_weights=tmp_path / "junk.pt")
    with pytest.raises(InputDataError, match="encoder 'resnet18'; expected one of"):
        build_efficientunet("resnet18")


def test_running_statistics_catch_up_with_the_batches_within_tens_of_steps():
    # the reference EfficientNet's momentum of 0.01 leaves running statistics ~0.99**40 = 67% at their
    # initial values after 40 steps, so the evaluation-mode network is far from the trained one
    torch.manual_seed(0)
    net = build_efficientunet("efficientnet-b0").train()
    norms = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert {m.momentum for m in norms} == {BATCH_NORM_MOMENTUM}
    stem_inputs = []
    norms[0].register_forward_hook(lambda module, args, out: stem_inputs.append(args[0]))
    batch = torch.rand(4, 1, 64, 64) * 3 + 2
    with torch.no_grad():
        for _ in range(40):
            net(batch)
    batch_mean = stem_inputs[-1].mean(dim=(0, 2, 3))
    assert torch.allclose(norms[0].running_mean, batch_mean, rtol=0.03, atol=1e-3)


def test_group_norm_replaces_every_batch_norm_and_normalises_each_item_alone():
    torch.manual_seed(0)
    net = build_efficientunet(norm="group")
    modules = list(net.modules())
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in modules)
    assert sum(isinstance(m, torch.nn.GroupNorm) for m in modules) > 50
    x = torch.randn(4, 1, 32, 32)
    # no batch statistics: in training (stochastic depth switched off) an item does not depend on its
    # batch, so training normalises it as evaluation does
    for layer in modules:
        if hasattr(layer, "_drop_connect_rate"):
            layer._drop_connect_rate = 0.0
    with torch.no_grad():
        trained, alone, evaluated = net.train()(x), net(x[:1]), net.eval()(x)
    assert torch.allclose(alone, trained[:1], atol=1e-4) and torch.allclose(trained, evaluated, atol=1e-4)
    batch_norm = build_efficientunet().train()
    with torch.no_grad():
        assert not torch.allclose(batch_norm(x)[:2], batch_norm(x[:2]), atol=1e-3)


def test_group_norm_refuses_imagenet_weights(rgb_encoder_file):
    with pytest.raises(InputDataError, match="norm 'group' with encoder weights"):
        build_efficientunet(norm="group", encoder_weights=rgb_encoder_file[0])
    from pydantic import ValidationError

    from stainworth.contracts.stainer import EfficientUNetConfig

    with pytest.raises(ValidationError, match="ImageNet weights carry batch-norm statistics"):
        EfficientUNetConfig(norm="group", encoder_weights_uri="s3://bucket/b0.safetensors")


def strided_convolutions(net):
    return [m for m in net.modules() if hasattr(m, "static_padding") and tuple(m.stride) == (2, 2)]


def test_edge_padding_gives_every_strided_layer_a_constant_response_to_a_constant_map():
    # TensorFlow's "same" padding at a stride of 2 on an even side pads the right and bottom only: with
    # zeros, the last row and column of a strided layer's output see a border the first ones do not
    # (the dark bottom-right corner of a trained stainer); filled with the map's content, they see none
    torch.manual_seed(0)
    edge = strided_convolutions(build_efficientunet())
    torch.manual_seed(0)
    zeros = strided_convolutions(build_efficientunet(padding="zeros"))
    assert len(edge) == len(zeros) == 5
    for with_edge, with_zeros in zip(edge, zeros, strict=True):
        constant = torch.full((1, with_edge.in_channels, 16, 16), 0.7)
        with torch.no_grad():
            flat, bordered = with_edge(constant)[0], with_zeros(constant)[0]
        assert torch.allclose(flat, flat[:, :1, :1].expand_as(flat), rtol=1e-5, atol=1e-6)
        inner = bordered[:, 1:-1, 1:-1]
        assert torch.allclose(inner, flat[:, 1:-1, 1:-1], rtol=1e-5, atol=1e-6)  # the same layer inside
        assert not torch.allclose(bordered[:, -1, :], flat[:, -1, :], atol=1e-3)


def test_edge_padding_keeps_the_weights_their_names_and_the_symmetric_zero_paddings():
    torch.manual_seed(0)
    edge = build_efficientunet().state_dict()
    torch.manual_seed(0)
    zeros = build_efficientunet(padding="zeros").state_dict()
    assert edge.keys() == zeros.keys() and all(torch.equal(edge[k], zeros[k]) for k in edge)
    pads = [m for m in build_efficientunet().modules() if isinstance(m, (torch.nn.ZeroPad2d, EdgePad))]
    sides = [m.padding if isinstance(m, torch.nn.ZeroPad2d) else m.pads for m in pads]
    assert all(isinstance(m, EdgePad) == (left != right or top != bottom)
               for m, (left, right, top, bottom) in zip(pads, sides, strict=True))
    assert sum(isinstance(m, EdgePad) for m in pads) == 5
    with pytest.raises(InputDataError, match="padding 'same'; expected one of"):
        build_efficientunet(padding="same")
