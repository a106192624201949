import numpy as np
import pytest
from scipy.special import eval_laguerre
from scipy.stats import norm

from stainworth.analysis.observer import ChannelizedHotelling, cho_auc, laguerre_gauss_channels
from stainworth.errors import ConfigError, InputDataError

SIZE = 48


def radius2(size=SIZE, centre=None):
    cy, cx = ((size - 1) / 2,) * 2 if centre is None else centre
    rows, cols = np.mgrid[:size, :size]
    return (rows - cy) ** 2 + (cols - cx) ** 2


def blob(radius, amplitude, centre=None):
    return amplitude * np.exp(-radius2(centre=centre) / (2 * radius**2))


def blob_signals(d_prime=1.5, centre=None):
    """Control and treated blobs (radius 3.0 vs 3.6 px) scaled so that ||s1 - s0|| = d_prime."""
    scale = d_prime / np.linalg.norm(blob(3.6, 1.0, centre) - blob(3.0, 1.0, centre))
    return blob(3.0, scale, centre), blob(3.6, scale, centre)


def two_class_images(signal0, signal1, n_per_class, rng):
    labels = np.repeat([0, 1], n_per_class)
    clean = np.where(labels[:, None, None] == 1, signal1, signal0)
    return clean + rng.normal(size=clean.shape), labels


def datasets(signal0, signal1, seed=0):
    rng = np.random.default_rng(seed)
    return (*two_class_images(signal0, signal1, 300, rng), *two_class_images(signal0, signal1, 1000, rng))


def test_channels_are_orthonormal():
    channels = laguerre_gauss_channels(64, 10, 64 / 6).reshape(10, -1)
    gram = channels @ channels.T
    np.testing.assert_allclose(np.diag(gram), 1.0, rtol=1e-12)
    assert np.abs(gram - np.eye(10)).max() < 1e-6  # measured 1.3e-7


def test_channels_follow_the_laguerre_gauss_formula():
    width, r2 = 8.0, radius2()
    channels = laguerre_gauss_channels(SIZE, 4, width)
    for j, channel in enumerate(channels):
        formula = np.sqrt(2) / width * np.exp(-np.pi * r2 / width**2) * eval_laguerre(j, 2 * np.pi * r2 / width**2)
        assert np.linalg.norm(formula) == pytest.approx(1.0, abs=1e-5)  # unit norm in the continuum already
        np.testing.assert_allclose(channel, formula / np.linalg.norm(formula), atol=1e-12)
        np.testing.assert_allclose(channel, channel.T, atol=1e-12)  # radially symmetric about the centre
        np.testing.assert_allclose(channel, channel[::-1, ::-1], atol=1e-12)


def test_channel_centre_can_be_moved():
    channel = laguerre_gauss_channels(SIZE, 1, 6.0, centre=(10.0, 30.0))[0]
    assert np.unravel_index(np.argmax(channel), channel.shape) == (10, 30)


def test_cho_reaches_the_ske_ideal_observer_when_the_signal_is_in_the_channel_span():
    signal0, signal1 = blob_signals(d_prime=1.5)
    ideal_auc = norm.cdf(1.5 / np.sqrt(2))  # white noise, sigma = 1: d' = ||s1 - s0|| / sigma
    channels = laguerre_gauss_channels(SIZE, 10, SIZE / 6).reshape(10, -1)
    captured = np.linalg.norm(channels @ (signal1 - signal0).ravel()) / 1.5
    assert captured > 0.999  # the radial blob difference lies in the span of the channels
    aucs = [cho_auc(*datasets(signal0, signal1, seed)).auc.auc for seed in range(2)]
    for auc in aucs:  # measured 0.860, 0.842 against the ideal 0.856
        assert ideal_auc - 0.04 <= auc <= ideal_auc + 0.03
        assert auc > 0.8


def test_a_signal_outside_the_channel_span_is_invisible_to_the_cho():
    signal0 = np.zeros((SIZE, SIZE))
    dipole = blob(3.0, 1.0, centre=(23.5, 19.5)) - blob(3.0, 1.0, centre=(23.5, 27.5))  # odd: no radial part
    signal1 = 1.5 * dipole / np.linalg.norm(dipole)  # the SKE ideal AUC is still 0.856
    result = cho_auc(*datasets(signal0, signal1))
    assert abs(result.auc.auc - 0.5) < 0.05


def test_matching_the_channel_centre_to_an_off_centre_signal():
    centre = (16.0, 30.0)
    signal0, signal1 = blob_signals(d_prime=1.5, centre=centre)
    data = datasets(signal0, signal1, seed=3)
    centred = cho_auc(*data, centre=centre).auc.auc
    assert centred > 0.8 and centred > cho_auc(*data).auc.auc + 0.1  # measured 0.865 vs 0.716


def test_no_class_difference_gives_chance_auc():
    signal = blob(3.0, 5.0)
    assert abs(cho_auc(*datasets(signal, signal, seed=4)).auc.auc - 0.5) < 0.05


def test_scores_are_linear_and_scale_free():
    signal0, signal1 = blob_signals()
    train, train_labels, test, _ = datasets(signal0, signal1, seed=5)
    cho = ChannelizedHotelling(laguerre_gauss_channels(SIZE, 10, 8.0)).fit(train, train_labels)
    scores = cho.score(test)
    np.testing.assert_allclose(scores, test.reshape(len(test), -1) @ cho.template.ravel(), rtol=1e-9, atol=1e-9)
    scaled = ChannelizedHotelling(laguerre_gauss_channels(SIZE, 10, 8.0)).fit(1000 * train, train_labels)
    np.testing.assert_allclose(scaled.score(1000 * test), scores, rtol=1e-8, atol=1e-10)
    assert scaled.training_snr == pytest.approx(cho.training_snr, rel=1e-8)


def small_set(n0=12, n1=12):
    return np.zeros((n0 + n1, 16, 16)) + np.random.default_rng(7).normal(size=(n0 + n1, 16, 16)), \
        np.repeat([0, 1], [n0, n1])


def test_bad_training_data_is_refused():
    images, labels = small_set()
    cho = ChannelizedHotelling(laguerre_gauss_channels(16, 4, 2.5))
    with pytest.raises(InputDataError, match=r"only class \[0\] present"):
        cho.fit(images, np.zeros(24, int))
    with pytest.raises(InputDataError, match="at least n_channels \\+ 1 = 5 images per class .* got 20 control and 4"):
        cho.fit(images, np.repeat([0, 1], [20, 4]))
    with pytest.raises(InputDataError, match=r"found values \[0, 1, 2\]"):
        cho.fit(images, np.repeat([0, 1, 2], 8))
    with pytest.raises(InputDataError, match=r"shape \(23,\); expected \(24,\)"):
        cho.fit(images, labels[:-1])
    with pytest.raises(InputDataError, match=r"shape \(24, 16, 15\); expected \(n, 16, 16\)"):
        cho.fit(images[:, :, :-1], labels)
    with pytest.raises(InputDataError, match="0 images"):
        cho.channelise(images[:0])
    bad = images.copy()
    bad[3, 2, 2] = np.nan
    with pytest.raises(InputDataError, match="NaN or infinite"):
        cho.fit(bad, labels)


def test_unfitted_observer_and_bad_test_sets_are_refused():
    images, labels = small_set()
    cho = ChannelizedHotelling(laguerre_gauss_channels(16, 4, 2.5))
    for use in (lambda: cho.score(images), lambda: cho.template, lambda: cho.training_snr):
        with pytest.raises(InputDataError, match="not fitted"):
            use()
    with pytest.raises(InputDataError, match=r"test labels: only class \[1\] present"):
        cho_auc(images, labels, images, np.ones(24, int), n_channels=4)
    with pytest.raises(InputDataError, match=r"training images: shape \(24, 16, 12\); expected \(n, S, S\)"):
        cho_auc(images[:, :, :12], labels, images, labels)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: laguerre_gauss_channels(0, 3, 2.0), "found 0 and 3; expected positive"),
        (lambda: laguerre_gauss_channels(16, 3, 0.0), "width: found 0.0"),
        (lambda: laguerre_gauss_channels(16, 3, 1.0, centre=(1e4, 1e4)), "leave a channel with no weight"),
        (lambda: ChannelizedHotelling(np.ones((16, 16))), r"channels: shape \(16, 16\)"),
        (lambda: ChannelizedHotelling(np.ones((2, 16, 16)), regularisation=-1), "regularisation: found -1"),
    ],
)
def test_bad_settings_are_refused(call, match):
    with pytest.raises(ConfigError, match=match):
        call()
