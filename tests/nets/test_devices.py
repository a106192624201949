"""Device choice: auto picks CUDA only when torch sees it, cuda without a device is refused, bf16 autocast."""

import pytest
import torch

from stainworth.errors import ConfigError
from stainworth.nets.devices import autocast, grouped_convolutions_in_float32, module_device, resolve_device
from stainworth.profiles import load_profile


@pytest.mark.parametrize(("visible", "expected"), [(False, "cpu"), (True, "cuda")])
def test_auto_takes_the_gpu_only_when_torch_sees_one(monkeypatch, visible, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: visible)
    assert resolve_device("auto") == torch.device(expected)
    assert resolve_device("cpu") == torch.device("cpu")


def test_cuda_without_a_device_is_refused_with_one_line(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match=r"device 'cuda': torch sees no CUDA device") as error:
        resolve_device("cuda")
    assert "\n" not in str(error.value)


def test_an_unknown_device_is_refused():
    with pytest.raises(ConfigError, match="device 'tpu': expected one of auto, cpu, cuda"):
        resolve_device("tpu")


def test_a_profile_naming_an_unknown_device_is_refused_at_load():
    with pytest.raises(ConfigError, match="device"):
        load_profile("smoke", ["tasks.segmentation.training.device=gpu"])
    assert load_profile("smoke", ["stain.training.device=cpu"]).stain.training.device == "cpu"


def test_a_module_is_where_its_parameters_are():
    assert module_device(torch.nn.Linear(2, 2)) == torch.device("cpu")
    assert module_device(torch.nn.ReLU()) == torch.device("cpu")


@pytest.mark.parametrize(("enabled", "dtype"), [(True, torch.bfloat16), (False, torch.float32)])
def test_autocast_runs_matrix_products_in_bf16_only_when_enabled(enabled, dtype):
    with autocast(enabled, torch.device("cpu")):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == dtype


def test_grouped_convolutions_run_in_float32_under_cpu_autocast_and_keep_their_weights():
    torch.manual_seed(0)
    depthwise, dense = torch.nn.Conv2d(4, 4, 3, padding=1, groups=4), torch.nn.Conv2d(4, 4, 3, padding=1)
    net = torch.nn.Sequential(depthwise, dense)
    keys = list(net.state_dict())
    x = torch.randn(2, 4, 8, 8)
    plain, float32 = net(x), depthwise(x)
    assert grouped_convolutions_in_float32(net) is net and list(net.state_dict()) == keys
    assert torch.equal(net(x), plain)  # without autocast nothing changes
    with autocast(True):
        assert torch.equal(depthwise(x), float32) and dense(x).dtype == torch.bfloat16
        assert net(x).dtype == torch.bfloat16
