"""Networks of your own: timm:, smp: and py: names built with one input channel, probed, refused in one line."""

import re
import sys
import types
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import save_file
from torch import nn

from stainworth.contracts.base import validate_model
from stainworth.contracts.profile import Profile
from stainworth.errors import ConfigError, InputDataError
from stainworth.nets.padding import PadToMultiple
from stainworth.nets.parameters import trainable_parameters
from stainworth.profiles import load_profile, profile_path
from stainworth.tasks import build_task_net, capacity, check_task_networks
from stainworth.tasks.user_nets import UserClassifier

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TIMM = "timm:mobilenetv3_small_050"
SMP = "smp:Unet/resnet18"
PY_CLS = "py:stainworth.tasks.examples:tiny_cnn"
PY_SEG = "py:stainworth.tasks.examples:tiny_segmenter"


def three_channel_only():
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 1))


def ten_logits(in_channels=1):
    return nn.Sequential(nn.Conv2d(in_channels, 4, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(4, 10))


def not_a_module():
    return "a network"


@pytest.fixture
def own_module(monkeypatch):
    """A module ``own_nets_for_tests`` of networks that are wrong in one way each."""
    module = types.ModuleType("own_nets_for_tests")
    module.three_channel_only, module.ten_logits, module.not_a_module = three_channel_only, ten_logits, not_a_module
    monkeypatch.setitem(sys.modules, "own_nets_for_tests", module)
    return "own_nets_for_tests"


@pytest.mark.parametrize("name, task, shape", [
    (TIMM, "classification", (3,)),
    (PY_CLS, "classification", (3,)),
    (SMP, "segmentation", (3, 1, 48, 40)),
    (PY_SEG, "segmentation", (3, 1, 48, 40)),
])
def test_each_kind_is_built_with_one_input_channel_and_the_task_s_output(name, task, shape):
    torch.manual_seed(0)
    net = build_task_net(name, task=task, image_px=64)
    after = torch.rand(1)
    torch.manual_seed(0)
    again = build_task_net(name, task=task)
    assert torch.equal(after, torch.rand(1))  # the probe draws nothing from torch's generator
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), again.state_dict().values(),
                                                 strict=True))  # nor changes the network
    assert net.training and net(torch.rand(3, 1, 48, 40)).shape == shape
    assert capacity(name, task=task) == trainable_parameters(net)
    if task == "classification":
        assert isinstance(net, UserClassifier) and net.embed(torch.rand(2, 1, 32, 32)).shape[0] == 2


def test_an_smp_network_takes_any_image_size_and_timm_and_smp_know_their_task():
    assert isinstance(build_task_net(SMP), PadToMultiple)  # smp: segmentation only
    assert isinstance(build_task_net(TIMM), UserClassifier)  # timm: classification only
    with pytest.raises(ConfigError, match="py: network does either task; expected task="):
        build_task_net(PY_CLS)
    with pytest.raises(ConfigError, match="timm: networks do classification only"):
        build_task_net(TIMM, task="segmentation")


@pytest.mark.parametrize("name, task, message", [
    ("timm:no_such_model", "classification", r"timm:no_such_model: timm [\d.]+ has no model 'no_such_model'"),
    ("smp:Unet/no_such_encoder", "segmentation",
     r"smp:Unet/no_such_encoder: segmentation_models_pytorch [\d.]+ has no encoder 'no_such_encoder'"),
    ("smp:NoSuchArch/resnet18", "segmentation", r"has no architecture 'NoSuchArch'"),
    ("py:no_such_module_here:net", "classification",
     r"cannot import module 'no_such_module_here' \(ModuleNotFoundError.*on a cluster: in the image"),
    ("py:own_nets_for_tests:missing", "classification", r"module 'own_nets_for_tests' has no function 'missing'"),
    ("py:own_nets_for_tests:not_a_module", "classification", r"returned str; expected a torch.nn.Module"),
    ("py:own_nets_for_tests:ten_logits", "classification",
     r"returns shape \(2, 10\) for a \(2, 1, 64, 64\) input; classification needs \(N,\) or \(N, 1\) logits"),
    ("py:own_nets_for_tests:three_channel_only", "classification",
     r"does not take a 1-channel 64x64 image, the task's image size \(RuntimeError"),
    (PY_CLS, "segmentation", r"returns shape \(2, 1\) .*segmentation needs \(N, 1, 64, 64\) logits"),
])
def test_a_network_that_cannot_be_built_or_does_not_fit_is_refused_in_one_line(own_module, name, task, message):
    with pytest.raises(ConfigError, match=message) as caught:
        build_task_net(name, task=task, image_px=64)
    assert "\n" not in str(caught.value) and name in str(caught.value)


def test_the_profile_check_names_the_field_before_anything_trains(own_module):
    profile = load_profile("smoke", [f"tasks.classification.architectures=[cnn1, '{TIMM}', '{PY_CLS}']",
                                     f"tasks.segmentation.architectures=[unet1, '{SMP}']"])
    state = torch.random.get_rng_state()
    assert check_task_networks(profile) == {SMP: capacity(SMP), TIMM: capacity(TIMM),
                                            PY_CLS: capacity(PY_CLS, task="classification")}
    assert torch.equal(state, torch.random.get_rng_state())
    bad = load_profile("smoke", ["tasks.classification.architectures=[cnn1, 'py:own_nets_for_tests:ten_logits']"])
    with pytest.raises(ConfigError, match=r"^tasks.classification.architectures\[1\]: py:own_nets_for_tests:"
                                          r"ten_logits returns shape \(2, 10\)"):
        check_task_networks(bad)
    small = load_profile("smoke", ["tasks.classification.learnable.architecture=py:own_nets_for_tests:ten_logits"])
    with pytest.raises(ConfigError, match=r"^tasks.classification.learnable.architecture: "):
        check_task_networks(small, ["classification"])
    check_task_networks(small, ["segmentation"])  # only the tasks a pipeline trains


def test_weights_come_from_a_file_only(tmp_path):
    torch.manual_seed(1)
    trained = build_task_net(PY_CLS, task="classification")
    save_file(dict(trained.net.state_dict()), str(tmp_path / "own.safetensors"))
    loaded = build_task_net(PY_CLS, task="classification", weights=tmp_path / "own.safetensors")
    assert all(torch.equal(a, b) for a, b in zip(trained.state_dict().values(), loaded.state_dict().values(),
                                                 strict=True))
    with pytest.raises(InputDataError, match="weights file not found"):
        build_task_net(TIMM, weights=tmp_path / "absent.pt")
    imagenet = {key: value for key, value in build_task_net(TIMM).net.state_dict().items()}
    imagenet["conv_stem.weight"] = imagenet["conv_stem.weight"].repeat(1, 3, 1, 1)  # an RGB stem
    imagenet["classifier.weight"] = torch.zeros(1000, imagenet["classifier.weight"].shape[1])  # ImageNet's head
    imagenet["classifier.bias"] = torch.zeros(1000)
    torch.save(imagenet, tmp_path / "rgb.pt")
    net = build_task_net(TIMM, weights=tmp_path / "rgb.pt")
    assert torch.allclose(net.net.conv_stem.weight, imagenet["conv_stem.weight"].sum(1, keepdim=True))


def merged(base, extra):
    return {key: merged(base.get(key, {}), value) if isinstance(value, dict) else value
            for key, value in (base | extra).items()} if isinstance(base, dict) else extra


def test_the_profile_snippets_of_the_docs_are_valid_and_their_networks_fit():
    text = (Path(__file__).resolve().parents[2] / "docs" / "your_own.md").read_text()
    snippets = [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", text, flags=re.S)]
    assert len(snippets) == 6  # four of networks, two of stainers
    base = yaml.safe_load(profile_path("smoke").read_text())
    profiles = [validate_model(Profile, merged(base, snippet), where="docs") for snippet in snippets]
    names = [name for profile in profiles for task in ("segmentation", "classification")
             for name in profile.tasks.sweep(task).architectures if ":" in name]
    assert names == ["timm:convnext_nano", "smp:Unet/resnet34", "py:stainworth.tasks.examples:tiny_cnn",
                     "timm:convnext_nano"]
    assert check_task_networks(profiles[2]) == {"py:stainworth.tasks.examples:tiny_cnn": 1265}
    assert [profile.tasks.classification.modalities[1:-1] for profile in profiles[4:]] == [
        ["virtual_effunet", "virtual_pix2pixhd", "virtual_cytoland", "virtual_mylab"],
        ["virtual_effunet", "virtual_pix2pixhd", "virtual_cytoland"]]
