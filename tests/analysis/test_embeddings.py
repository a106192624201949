import numpy as np
import pytest
import torch

from stainworth.analysis.embeddings import class_cosine_distance, cosine_distances, embeddings
from stainworth.errors import ConfigError, InputDataError
from stainworth.tasks import build_task_net, ladder
from stainworth.tasks.classifiers import POOLED_SIZE

CLASSIFIERS = ladder("classification")
DIMENSIONS = {"cnn1": 16 * POOLED_SIZE**2, "cnn3": 64 * POOLED_SIZE**2, "resnet18": 512, "resnet50": 2048,
              "resnet101": 2048}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def classifiers():
    torch.manual_seed(0)
    return {name: build_task_net(name).eval() for name in CLASSIFIERS}


@pytest.fixture(scope="module")
def batch():
    return torch.rand(3, 1, 32, 32, generator=torch.Generator().manual_seed(1))


def test_the_ladder_is_covered():
    assert set(CLASSIFIERS) == set(DIMENSIONS)


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_embed_gives_the_penultimate_features(classifiers, batch, name):
    net = classifiers[name]
    with torch.no_grad():
        embedded = net.embed(batch)
    assert embedded.shape == (3, DIMENSIONS[name]) == (3, net.head.in_features)
    assert (embedded >= 0).all()  # after a ReLU (and average pooling)


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_forward_is_exactly_the_head_of_the_embedding(classifiers, batch, name):
    net = classifiers[name]
    with torch.no_grad():
        assert torch.equal(net(batch), net.head(net.embed(batch)).squeeze(1))


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnet101"])
def test_resnet_embedding_path_is_torchvisions_forward(classifiers, batch, name):
    net = classifiers[name]
    assert net.head is net.net.fc and "head.weight" not in net.state_dict()
    with torch.no_grad():
        assert torch.equal(net(batch), net.net(batch).squeeze(1))


@pytest.mark.parametrize("name", ["cnn1", "cnn3"])
def test_cnn_embedding_is_the_flattened_pooled_features(classifiers, batch, name):
    net = classifiers[name]
    with torch.no_grad():
        assert torch.equal(net.embed(batch), torch.flatten(net.pool(net.features(batch)), 1))


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_embeddings_of_a_numpy_stack(classifiers, batch, name):
    net = classifiers[name]
    values = embeddings(net, batch[:, 0].numpy(), batch_size=2)
    assert values.shape == (3, DIMENSIONS[name]) and values.dtype == np.float64
    with torch.no_grad():
        expected = net.embed(batch).double().numpy()
    # float32 kernels differ by batch size; untrained deep ResNets reach values of several hundred
    np.testing.assert_allclose(values, expected, rtol=0, atol=1e-5 * np.abs(expected).max())
    np.testing.assert_array_equal(embeddings(net, batch.numpy(), batch_size=2), values)  # (N, 1, H, W) too


def test_embeddings_do_not_depend_on_the_batch_size(classifiers, batch):
    net = classifiers["resnet18"]
    np.testing.assert_allclose(embeddings(net, batch.numpy(), batch_size=1), embeddings(net, batch.numpy()),
                               rtol=1e-4, atol=1e-4)


def test_embeddings_use_evaluation_mode_and_restore_training_flags(batch):
    torch.manual_seed(2)
    net = build_task_net("resnet18").train()
    net.net.layer1.eval()  # a caller's own choice for one submodule survives
    before = net.net.bn1.running_mean.clone()
    first = embeddings(net, batch.numpy())
    assert net.training and net.net.bn1.training and not net.net.layer1.training
    assert torch.equal(net.net.bn1.running_mean, before)  # evaluation mode: running statistics untouched
    np.testing.assert_array_equal(embeddings(net, batch.numpy()), first)  # deterministic


def test_embeddings_refuse_a_network_without_embed():
    with pytest.raises(ConfigError, match=r"network PadToMultiple has no embed\(x\); expected a classifier"):
        embeddings(build_task_net("unet1"), np.zeros((2, 32, 32)))


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
def test_embeddings_refuse_a_bad_batch_size(classifiers, batch_size):
    with pytest.raises(ConfigError, match=r"batch_size: found .*; expected an integer >= 1"):
        embeddings(classifiers["cnn1"], np.zeros((2, 32, 32)), batch_size=batch_size)


@pytest.mark.parametrize(("images", "message"), [
    (np.zeros((32, 32)), r"images: found shape \(32, 32\); expected \(N, H, W\) or \(N, C, H, W\)"),
    (np.zeros((0, 32, 32)), r"images: found 0 images \(shape \(0, 32, 32\)\); expected at least one"),
    (np.full((2, 32, 32), np.nan), r"images: found 2048 NaN or infinite pixels; expected finite values"),
    (np.full((2, 32, 32), "a"), r"images: found dtype <U1; expected numeric pixels"),
])
def test_embeddings_refuse_bad_images(classifiers, images, message):
    with pytest.raises(InputDataError, match=message):
        embeddings(classifiers["cnn1"], images)


def two_classes(control, treated):
    return np.concatenate([control, treated]), np.repeat([0, 1], [len(control), len(treated)])


def rotated_means(angle, dimension=8, scale=10.0):
    """Two mean vectors of norms 10 and 30 at ``angle`` radians, positive in every coordinate."""
    base = np.full(dimension, 2.0)
    first = np.zeros(dimension)
    first[0] = 1.0
    second = np.zeros(dimension)
    second[0], second[1] = np.cos(angle), np.sin(angle)
    return base + scale * first, base + 3 * scale * second


def centred_noise(rng, n, dimension, sigma):
    noise = rng.normal(0.0, sigma, size=(n, dimension))
    return noise - noise.mean(axis=0)


def test_identical_classes_are_at_distance_zero():
    rng = np.random.default_rng(0)
    values = rng.gamma(2.0, size=(150, 16))
    result = class_cosine_distance(*two_classes(values, values.copy()))
    assert abs(result.distance) < 1e-12
    assert 0 <= result.ci_low <= result.ci_high < 0.01
    assert (result.n_control, result.n_treated, result.dimension, result.n_boot) == (150, 150, 16, 2000)
    assert result.n_undefined == 0 and result.confidence == 0.95


def test_classes_of_one_distribution_are_close_and_far_from_separated_ones():
    rng = np.random.default_rng(1)
    same = class_cosine_distance(*two_classes(rng.gamma(2.0, size=(300, 16)), rng.gamma(2.0, size=(300, 16))))
    shifted = rng.gamma(2.0, size=(300, 16))
    shifted[:, :4] += 2.0
    apart = class_cosine_distance(*two_classes(rng.gamma(2.0, size=(300, 16)), shifted))
    # The distance is bounded below by 0: resampling noise only adds, so the percentile interval of
    # identically distributed classes lies just above 0 (see the module docstring).
    assert same.distance < 0.005 and same.ci_high < 0.01
    assert apart.ci_low > 5 * same.ci_high


@pytest.mark.parametrize("angle", [0.0, 0.3, np.pi / 4, 1.2])
def test_distance_of_exact_class_means_is_analytic(angle):
    rng = np.random.default_rng(2)
    mean0, mean1 = rotated_means(angle)
    control = mean0 + centred_noise(rng, 40, 8, 1.0)
    treated = mean1 + centred_noise(rng, 60, 8, 1.0)
    expected = 1 - mean0 @ mean1 / (np.linalg.norm(mean0) * np.linalg.norm(mean1))
    result = class_cosine_distance(*two_classes(control, treated), n_boot=200)
    assert result.distance == pytest.approx(expected, abs=1e-12)
    assert class_cosine_distance(*two_classes(control, 5 * treated), n_boot=200).distance == pytest.approx(
        expected, abs=1e-12)  # scale-free


def test_noisy_classes_bracket_the_analytic_distance():
    rng = np.random.default_rng(3)
    mean0, mean1 = rotated_means(0.5)
    expected = 1 - mean0 @ mean1 / (np.linalg.norm(mean0) * np.linalg.norm(mean1))
    control = mean0 + rng.normal(0.0, 3.0, size=(400, 8))
    treated = mean1 + rng.normal(0.0, 3.0, size=(400, 8))
    result = class_cosine_distance(*two_classes(control, treated))
    assert result.distance == pytest.approx(expected, abs=0.01)
    assert result.ci_low < expected < result.ci_high
    assert result.ci_low < result.distance < result.ci_high


def test_interval_narrows_as_the_classes_grow():
    rng = np.random.default_rng(4)
    mean0, mean1 = rotated_means(0.5)

    def width(n):
        values = two_classes(mean0 + rng.normal(0, 3.0, (n, 8)), mean1 + rng.normal(0, 3.0, (n, 8)))
        result = class_cosine_distance(*values)
        return result.ci_high - result.ci_low

    assert 1.5 < width(100) / width(400) < 2.7  # about sqrt(4) = 2


def test_resampling_keeps_the_class_sizes_and_is_deterministic():
    rng = np.random.default_rng(5)
    values, labels = two_classes(rng.gamma(2.0, size=(5, 2048)), rng.gamma(2.5, size=(500, 2048)))
    first = class_cosine_distance(values, labels, n_boot=2500, seed=7)  # several resampling chunks
    assert (first.n_control, first.n_treated, first.dimension) == (5, 500, 2048)
    assert class_cosine_distance(values, labels, n_boot=2500, seed=7) == first
    assert class_cosine_distance(values, labels, n_boot=2500, seed=8).ci_low != first.ci_low
    shuffled = rng.permutation(labels.size)
    assert class_cosine_distance(values[shuffled], labels[shuffled], n_boot=200).distance == pytest.approx(
        first.distance, abs=1e-12)


def test_resamples_with_a_zero_class_mean_are_left_out_and_counted():
    values = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0], [1.0, 0.8]])
    result = class_cosine_distance(values, np.array([0, 0, 1, 1, 1]), n_boot=1000)
    assert 150 < result.n_undefined < 350  # both control picks are the zero row: 1/4 of the resamples
    assert np.isfinite([result.ci_low, result.ci_high]).all() and result.ci_low <= result.ci_high


def test_cosine_distances_row_wise():
    a = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0], [1.0, 0.0]])
    b = np.array([[0.0, 2.0], [2.0, 2.0], [1.0, 0.0], [-3.0, 0.0]])
    np.testing.assert_allclose(cosine_distances(a, b), [1.0, 0.0, np.nan, 2.0], atol=1e-15)


def test_embeddings_of_two_image_classes_end_to_end(classifiers):
    rng = np.random.default_rng(6)
    rows, cols = np.mgrid[:32, :32]
    blob = np.exp(-((rows - 15.5) ** 2 + (cols - 15.5) ** 2) / 50.0)
    images = np.concatenate([blob + 0.05 * rng.normal(size=(20, 32, 32)),
                             0.3 * blob + 0.05 * rng.normal(size=(20, 32, 32))]).astype(np.float32)
    labels = np.repeat([0, 1], 20)
    result = class_cosine_distance(embeddings(classifiers["cnn1"], images, batch_size=16), labels, n_boot=500)
    assert 0 <= result.ci_low <= result.ci_high <= 1 and result.dimension == DIMENSIONS["cnn1"]


@pytest.mark.parametrize(("values", "labels", "message"), [
    (np.zeros((0, 4)), np.zeros(0), r"embeddings: found shape \(0, 4\) of dtype float64; expected a non-empty"),
    (np.ones(4), np.array([0, 0, 1, 1]), r"embeddings: found shape \(4,\) .*expected a non-empty numeric \(N, D\)"),
    (np.array([[np.nan, 1.0], [1.0, 1.0]]), np.array([0, 1]), r"found 1 NaN or infinite values; expected finite"),
    (np.ones((4, 2)), np.array([0, 1, 1]), r"labels: found shape \(3,\) for 4 embeddings; expected one label per"),
    (np.ones((3, 2)), np.array([0, 1, 2]), r"labels: found values \[0, 1, 2\]; expected 0 \(control\) and 1"),
    (np.ones((3, 2)), np.array([1, 1, 1]), r"labels: found only class 1 \(treated, 3 images\); expected both"),
    (np.ones((2, 2)), np.array([0, 0]), r"labels: found only class 0 \(control, 2 images\); expected both"),
    (np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([0, 1]),
     r"embeddings: the mean control embedding is the zero vector, so its cosine distance is undefined"),
])
def test_class_cosine_distance_refuses_bad_inputs(values, labels, message):
    with pytest.raises(InputDataError, match=message):
        class_cosine_distance(values, labels)


@pytest.mark.parametrize(("options", "message"), [
    ({"n_boot": 50}, r"n_boot: found 50; expected an integer of at least 100 resamples"),
    ({"n_boot": 200.0}, r"n_boot: found 200.0; expected an integer"),
    ({"confidence": 1.5}, r"confidence: found 1.5; expected a level in \(0, 1\)"),
])
def test_class_cosine_distance_refuses_bad_options(options, message):
    with pytest.raises(ConfigError, match=message):
        class_cosine_distance(np.ones((4, 2)), np.array([0, 0, 1, 1]), **options)
