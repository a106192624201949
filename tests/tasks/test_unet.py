import pytest
import torch
from torch import nn

from stainworth.errors import ConfigError
from stainworth.nets.padding import PadToMultiple
from stainworth.nets.parameters import trainable_parameters
from stainworth.tasks.unet import DecoderBlock, EncoderBlock, ShallowUNet, build_unet, doubling_widths

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def unets():
    torch.manual_seed(0)
    return {depth: build_unet(depth).eval() for depth in (1, 2, 3)}


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_blocks_follow_the_study(unets, depth):
    net = unets[depth]
    assert isinstance(net, PadToMultiple) and net.multiple == 2**depth
    unet = net.net
    assert isinstance(unet, ShallowUNet) and len(unet.encoders) == len(unet.decoders) == depth
    for encoder, width in zip(unet.encoders, doubling_widths(depth), strict=True):
        assert isinstance(encoder, EncoderBlock)
        assert isinstance(encoder.relu, nn.ReLU) and isinstance(encoder.pool, nn.MaxPool2d)
        assert encoder.conv.out_channels == width
    for decoder, width in zip(unet.decoders, doubling_widths(depth)[::-1], strict=True):
        assert isinstance(decoder, DecoderBlock) and isinstance(decoder.deconv, nn.ConvTranspose2d)
        assert decoder.deconv.out_channels == width and decoder.deconv.stride == (2, 2)
    assert unet.head.kernel_size == (1, 1) and unet.head.in_channels == 32 and unet.head.out_channels == 1


def test_widths_double_from_sixteen():
    assert doubling_widths(1) == (16,)
    assert doubling_widths(3) == (16, 32, 64)
    assert doubling_widths(2, 8) == (8, 16)


def test_unet1_has_the_hand_counted_parameters():
    conv, deconv, head = 1 * 16 * 9 + 16, 16 * 16 * 4 + 16, 2 * 16 + 1
    assert trainable_parameters(build_unet(1)) == conv + deconv + head == 1233


@pytest.mark.parametrize("size", [(16, 16), (17, 23), (64, 64), (70, 90)])
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_any_size_gives_one_finite_logit_per_pixel(unets, depth, size):
    with torch.no_grad():
        out = unets[depth](torch.rand(2, 1, *size))
    assert out.shape == (2, 1, *size)
    assert torch.isfinite(out).all()


def test_aligned_inputs_are_not_padded(unets):
    x = torch.rand(1, 1, 32, 48)
    with torch.no_grad():
        assert torch.equal(unets[3](x), unets[3].net(x))


def test_several_input_channels():
    net = build_unet(2, in_channels=3).eval()
    with torch.no_grad():
        assert net(torch.rand(1, 3, 40, 50)).shape == (1, 1, 40, 50)
    assert trainable_parameters(net) == trainable_parameters(build_unet(2)) + 2 * 16 * 9


def test_skip_connections_carry_full_resolution_detail(unets):
    """A change in one pixel changes the logit at that pixel of UNet3, through the top skip."""
    x = torch.zeros(1, 1, 32, 32)
    y = x.clone()
    y[0, 0, 5, 9] = 1.0
    with torch.no_grad():
        diff = (unets[3](y) - unets[3](x)).abs()[0, 0]
    assert diff[5, 9] > 0 and diff[20:, 20:].abs().sum() == 0


@pytest.mark.parametrize("depth", [0, 4, 2.0])
def test_other_depths_are_refused(depth):
    with pytest.raises(ConfigError, match=rf"^U-Net depth {depth!r}: expected one of 1, 2, 3$"):
        build_unet(depth)
