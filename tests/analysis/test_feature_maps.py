import numpy as np
import pytest
import torch
from matplotlib.image import imread

from stainworth.analysis.feature_maps import (
    decoder_features,
    mask_panel_png,
    mean_activation_map,
    save_feature_map_png,
)
from stainworth.errors import ConfigError, InputDataError
from stainworth.tasks import build_task_net, ladder

SEGMENTERS = ladder("segmentation")
CHANNELS = {"unet1": 32, "unet2": 32, "unet3": 32, "efficientunet0": 16, "efficientunet7": 16}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def segmenters():
    torch.manual_seed(0)
    return {name: build_task_net(name).eval() for name in SEGMENTERS}


@pytest.fixture(scope="module")
def batch():
    return torch.rand(2, 1, 64, 64, generator=torch.Generator().manual_seed(1))


def output_head(net):
    inner = net.net
    return inner.head if hasattr(inner, "decode") else inner.segmentation_head


def test_the_ladder_is_covered():
    assert set(SEGMENTERS) == set(CHANNELS)


@pytest.mark.parametrize("name", SEGMENTERS)
def test_decoder_features_are_the_output_layers_input(segmenters, batch, name):
    net = segmenters[name]
    head = output_head(net)
    with torch.no_grad():
        features = decoder_features(net, batch)
        assert features.shape == (2, CHANNELS[name], 64, 64)
        assert (features >= 0).all()  # the last decoder block ends in a ReLU
        assert torch.equal(head(decoder_features(net.net, batch)), net.net(batch))  # bare network, exact
        assert torch.equal(head(features), net(batch))  # 64 is a multiple of 32: no padding


@pytest.mark.parametrize("name", ["unet1", "unet2", "unet3"])
def test_shallow_unet_features_are_cropped_like_its_output(segmenters, name):
    net = segmenters[name]
    x = torch.rand(2, 1, 45, 37, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        features = decoder_features(net, x)
        assert features.shape == (2, 32, 45, 37)
        # a 1x1 head commutes with the crop (up to float32 rounding: the kernels see other memory layouts)
        torch.testing.assert_close(net.net.head(features), net(x), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", SEGMENTERS)
def test_mean_activation_map_has_the_input_size(segmenters, name):
    images = np.random.default_rng(3).random((3, 45, 37), dtype=np.float32)
    mean = mean_activation_map(segmenters[name], images, batch_size=2)
    assert mean.shape == (45, 37) and mean.dtype == np.float64
    assert np.isfinite(mean).all() and mean.min() >= 0 and mean.max() > 0


def test_mean_activation_map_is_the_mean_over_images_and_channels(segmenters):
    net = segmenters["unet2"]
    images = np.random.default_rng(4).random((5, 1, 40, 36), dtype=np.float32)
    with torch.no_grad():
        expected = decoder_features(net, torch.from_numpy(images)).double().mean(dim=(0, 1)).numpy()
    np.testing.assert_allclose(mean_activation_map(net, images, batch_size=2), expected, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(mean_activation_map(net, images[:, 0], batch_size=5), expected, rtol=1e-6,
                               atol=1e-9)


def test_mean_activation_map_uses_evaluation_mode_and_restores_training_flags():
    torch.manual_seed(5)
    net = build_task_net("efficientunet0").train()
    images = np.random.default_rng(5).random((2, 32, 32), dtype=np.float32)
    batch_norm = net.net.decoder.blocks[-1].conv1[1]
    before = batch_norm.running_mean.clone()
    first = mean_activation_map(net, images)
    assert net.training and batch_norm.training
    assert torch.equal(batch_norm.running_mean, before)
    np.testing.assert_array_equal(mean_activation_map(net, images), first)  # deterministic


@pytest.mark.parametrize("name", ["cnn1", "resnet18"])
def test_decoder_features_refuse_a_classifier(name):
    with pytest.raises(ConfigError, match=r"decoder features: network \w+ is not supported; expected a ShallowUNet"):
        decoder_features(build_task_net(name), torch.zeros(1, 1, 32, 32))


def test_decoder_features_refuse_an_unknown_wrapped_network():
    from stainworth.nets.padding import PadToMultiple

    with pytest.raises(ConfigError, match=r"network Conv2d is not supported"):
        decoder_features(PadToMultiple(torch.nn.Conv2d(1, 1, 1), 8), torch.zeros(1, 1, 30, 30))


@pytest.mark.parametrize(("name", "multiple"), [("unet2", 4), ("efficientunet0", 32)])
def test_bare_networks_refuse_sizes_they_cannot_take(segmenters, name, multiple):
    with pytest.raises(InputDataError, match=rf"found a 45x37 input for a bare .*; expected sides divisible by "
                                             rf"{multiple} \(wrap the network in PadToMultiple"):
        decoder_features(segmenters[name].net, torch.zeros(1, 1, 45, 37))


def test_decoder_features_refuse_a_batch_that_is_not_4d(segmenters):
    with pytest.raises(InputDataError, match=r"found input shape \(1, 32, 32\); expected \(N, C, H, W\)"):
        decoder_features(segmenters["unet1"], torch.zeros(1, 32, 32))


def test_mean_activation_map_refuses_bad_images_and_batch_sizes(segmenters):
    with pytest.raises(InputDataError, match=r"images: found 0 images"):
        mean_activation_map(segmenters["unet1"], np.zeros((0, 32, 32)))
    with pytest.raises(ConfigError, match=r"batch_size: found 0; expected an integer >= 1"):
        mean_activation_map(segmenters["unet1"], np.zeros((1, 32, 32)), batch_size=0)


def assert_png(path):
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    pixels = imread(path)
    assert pixels.ndim == 3 and pixels.shape[2] in (3, 4) and pixels.std() > 0
    return pixels


def test_feature_map_png_is_written(tmp_path):
    rows, cols = np.mgrid[:45, :37]
    values = np.exp(-((rows - 20) ** 2 + (cols - 15) ** 2) / 40.0)
    path = save_feature_map_png(values, tmp_path / "maps" / "unet2_label_free.png", "UNet2, label-free")
    assert path == tmp_path / "maps" / "unet2_label_free.png"
    assert_png(path)
    again = save_feature_map_png(values, tmp_path / "again.png", "UNet2, label-free")
    assert again.read_bytes() == path.read_bytes()  # deterministic


@pytest.mark.parametrize(("values", "message"), [
    (np.zeros((2, 4, 4)), r"feature map: found shape \(2, 4, 4\) of dtype float64; expected a non-empty numeric"),
    (np.zeros((0, 4)), r"feature map: found shape \(0, 4\)"),
    (np.array([[1.0, np.inf]]), r"feature map: found 1 NaN or infinite values; expected finite values"),
])
def test_feature_map_png_refuses_bad_maps(tmp_path, values, message):
    with pytest.raises(InputDataError, match=message):
        save_feature_map_png(values, tmp_path / "map.png", "title")
    assert not (tmp_path / "map.png").exists()


def panel_inputs(rows=3, size=(32, 40)):
    rng = np.random.default_rng(6)
    images = rng.random((rows, *size))
    truth = images > 0.6
    return images, truth, {"UNet1": (images > 0.5).astype(np.uint8), "EffU0": rng.random((rows, *size))}


def test_mask_panel_png_is_written(tmp_path):
    images, truth, predictions = panel_inputs()
    path = mask_panel_png(images, truth, predictions, tmp_path / "panels" / "fig5.png",
                          row_labels=["label-free", "virtual", "fluorescence"], title="Fig. 5")
    wide = assert_png(path)
    narrow = assert_png(mask_panel_png(images, truth, {}, tmp_path / "narrow.png"))
    assert wide.shape[1] > 1.8 * narrow.shape[1]  # four columns against two
    assert wide.shape[0] > 2.5 * assert_png(mask_panel_png(images[:1], truth[:1], {}, tmp_path / "one.png")).shape[0]


@pytest.mark.parametrize(("change", "message"), [
    ({"images": np.zeros((32, 40))}, r"images: found shape \(32, 40\) of dtype float64; expected a non-empty "
                                     r"numeric stack of shape \(rows, H, W\)"),
    ({"truth": np.zeros((3, 32, 41))}, r"truth: found shape \(3, 32, 41\) .*of shape \(3, 32, 40\) as the images"),
    ({"predictions": {"UNet1": np.full((3, 32, 40), 2.5)}},
     r"prediction 'UNet1': found values in \[2.5, 2.5\]; expected masks or probabilities in \[0, 1\] \(apply the "
     r"sigmoid to logits\)"),
    ({"predictions": {"EffU0": np.full((3, 32, 40), np.nan)}},
     r"prediction 'EffU0': found NaN or infinite values; expected finite values"),
    ({"row_labels": ["a", "b"]}, r"row_labels: found 2 labels for 3 rows; expected one label per row"),
])
def test_mask_panel_png_refuses_bad_inputs(tmp_path, change, message):
    images, truth, predictions = panel_inputs()
    arguments = {"images": images, "truth": truth, "predictions": predictions, "row_labels": None} | change
    with pytest.raises(InputDataError, match=message):
        mask_panel_png(path=tmp_path / "panel.png", **arguments)
    assert not (tmp_path / "panel.png").exists()
