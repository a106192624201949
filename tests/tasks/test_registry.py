import pytest
import segmentation_models_pytorch as smp
import torch
from safetensors.torch import save_file

from stainworth.contracts.task import LADDERS, TASKS
from stainworth.errors import ConfigError, InputDataError
from stainworth.nets.parameters import trainable_parameters
from stainworth.tasks import TASK_NETS, build_task_net, capacity, ladder

SMALL = ("cnn1", "cnn3", "resnet18", "unet1", "unet2", "unet3", "efficientunet0")
LARGE = ("resnet50", "resnet101", "efficientunet7")
"""Run for real only at the meta device (shapes, no arithmetic): too slow for two shared cores."""


pytestmark = pytest.mark.usefixtures("one_torch_thread")

@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    return {name: build_task_net(name) for name in SMALL}


def expected_shape(name, batch, height, width):
    return (batch, 1, height, width) if TASK_NETS[name].task == "segmentation" else (batch,)


def test_the_registry_holds_both_ladders_of_the_study():
    assert set(SMALL + LARGE) == set(TASK_NETS)
    assert ladder("segmentation") == ("unet1", "unet2", "unet3", "efficientunet0", "efficientunet7")
    assert ladder("classification") == ("cnn1", "cnn3", "resnet18", "resnet50", "resnet101")
    assert ladder("segmentation") + ladder("classification") == LADDERS["segmentation"] + LADDERS["classification"]
    for task in TASKS:
        assert {TASK_NETS[name].task for name in ladder(task)} == {task}  # every ladder network is built here
    assert {name for name, spec in TASK_NETS.items() if not spec.imagenet} == {"unet1", "unet2", "unet3", "cnn1",
                                                                               "cnn3"}
    assert all(spec.description and "\n" not in spec.description for spec in TASK_NETS.values())


@pytest.mark.parametrize("name", SMALL)
def test_logits_of_an_odd_size_have_the_documented_shape_and_are_finite(nets, name):
    net = nets[name].eval()
    with torch.no_grad():
        out = net(torch.rand(2, 1, 70, 90))
    assert out.shape == expected_shape(name, 2, 70, 90)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", SMALL)
def test_gradients_reach_the_first_layer(nets, name):
    net = nets[name].train()
    net.zero_grad()
    out = net(torch.rand(2, 1, 64, 64))
    assert out.shape == expected_shape(name, 2, 64, 64) and torch.isfinite(out).all()
    out.sum().backward()
    first = next(net.parameters())
    assert first.dim() == 4 and first.shape[1] == 1  # the first convolution, one input channel
    assert first.grad is not None and torch.isfinite(first.grad).all() and first.grad.abs().sum() > 0


@pytest.mark.parametrize("name", list(TASK_NETS))
def test_every_network_has_the_documented_shape_at_the_meta_device(name):
    with torch.device("meta"):
        out = build_task_net(name)(torch.empty(2, 1, 70, 90))
    assert out.shape == expected_shape(name, 2, 70, 90)


@pytest.mark.parametrize("name", ["unet2", "cnn3", "resnet50", "efficientunet0"])
def test_several_input_channels_at_the_meta_device(name):
    with torch.device("meta"):
        net = build_task_net(name, in_channels=3)
        out = net(torch.empty(2, 3, 64, 64))
    assert out.shape == expected_shape(name, 2, 64, 64)
    assert next(net.parameters()).shape[1] == 3


def test_capacity_strictly_increases_along_each_ladder():
    for task in TASKS:
        counts = [capacity(name) for name in ladder(task)]
        print(task, dict(zip(ladder(task), counts, strict=True)))
        assert counts == sorted(set(counts)), counts
    assert 10 * capacity("unet3") < capacity("efficientunet0")


def test_capacity_counts_the_built_network_and_leaves_the_random_state_alone(nets):
    state = torch.get_rng_state()
    for name in SMALL:
        assert capacity(name) == trainable_parameters(nets[name])
    assert capacity("cnn1", in_channels=3) > capacity("cnn1")
    assert torch.equal(state, torch.get_rng_state())


@pytest.mark.parametrize("name", ["unet3", "cnn3", "resnet18", "efficientunet0"])
def test_the_same_seed_builds_the_same_weights(name):
    torch.manual_seed(7)
    first = build_task_net(name).state_dict()
    torch.manual_seed(7)
    second = build_task_net(name).state_dict()
    torch.manual_seed(8)
    other = build_task_net(name).state_dict()
    assert all(torch.equal(first[key], second[key]) for key in first)
    assert not all(torch.equal(first[key], other[key]) for key in first)


def test_names_are_case_insensitive_and_the_task_can_be_required():
    assert isinstance(build_task_net("UNet1", task="segmentation"), torch.nn.Module)
    assert isinstance(build_task_net("CNN1", task="classification"), torch.nn.Module)


def test_an_unknown_name_lists_the_valid_ones():
    valid = "cnn1, cnn3, resnet18, resnet50, resnet101, unet1, unet2, unet3, efficientunet0, efficientunet7"
    with pytest.raises(ConfigError, match=f"^task network 'resnet34': expected one of {valid}$"):
        build_task_net("resnet34")
    with pytest.raises(ConfigError, match="task network 'unet4': expected one of cnn1"):
        capacity("unet4")


def test_a_network_of_the_other_task_or_an_unknown_task_is_refused():
    with pytest.raises(ConfigError, match="'resnet18' is a classification network; segmentation needs one of "
                                          "unet1, unet2, unet3, efficientunet0, efficientunet7$"):
        build_task_net("resnet18", task="segmentation")
    with pytest.raises(ConfigError, match="'unet2' is a segmentation network; classification needs one of cnn1"):
        build_task_net("unet2", task="classification")
    with pytest.raises(ConfigError, match="^task 'detection': expected one of segmentation, classification$"):
        build_task_net("unet2", task="detection")
    with pytest.raises(ConfigError, match="^task 'detection'"):
        ladder("detection")


@pytest.mark.parametrize("in_channels", [0, -1, 1.5, True, 1.0])
def test_bad_in_channels_are_refused(in_channels):
    capacity("resnet18", in_channels=1)  # a cached count for 1 must not answer for True or 1.0
    with pytest.raises(ConfigError, match=rf"^in_channels {in_channels!r}: expected an integer >= 1"):
        build_task_net("cnn1", in_channels=in_channels)
    with pytest.raises(ConfigError, match=rf"^in_channels {in_channels!r}: expected an integer >= 1"):
        capacity("resnet18", in_channels=in_channels)


@pytest.mark.parametrize("name", ["unet1", "unet2", "unet3", "cnn1", "cnn3"])
def test_networks_trained_from_scratch_take_no_weights(name, tmp_path):
    with pytest.raises(ConfigError, match=f"^task network '{name}' is trained from scratch .* takes no ImageNet "
                                          "weights; got weights='.*imagenet.pt'$"):
        build_task_net(name, weights=tmp_path / "imagenet.pt")


def test_a_missing_weights_file_is_named(tmp_path):
    with pytest.raises(InputDataError, match="missing.pt: weights file not found"):
        build_task_net("resnet18", weights=tmp_path / "missing.pt")


@pytest.fixture(scope="module")
def rgb_b0_encoder(tmp_path_factory):
    """An RGB EfficientNet-b0 encoder state dict with its ImageNet head, as a safetensors file."""
    torch.manual_seed(3)
    encoder = smp.Unet("efficientnet-b0", encoder_weights=None, in_channels=3, classes=1).encoder
    state = {k: v.contiguous() for k, v in encoder.state_dict().items()}
    path = tmp_path_factory.mktemp("weights") / "efficientnet-b0.safetensors"
    save_file(state | {"_fc.weight": torch.zeros(1000, 1280), "_fc.bias": torch.zeros(1000)}, str(path))
    return path, state


@pytest.mark.parametrize("in_channels", [1, 2, 3])
def test_efficientunet_encoder_weights_load_for_any_channel_count(rgb_b0_encoder, in_channels):
    path, rgb = rgb_b0_encoder
    net = build_task_net("efficientunet0", in_channels=in_channels, weights=path)
    state = net.net.encoder.state_dict()
    stem = rgb["_conv_stem.weight"]
    expected = {1: stem.sum(dim=1, keepdim=True), 2: stem.sum(dim=1, keepdim=True).repeat(1, 2, 1, 1) / 2,
                3: stem}[in_channels]
    assert torch.allclose(state["_conv_stem.weight"], expected)
    assert torch.equal(state["_blocks.3._depthwise_conv.weight"], rgb["_blocks.3._depthwise_conv.weight"])
