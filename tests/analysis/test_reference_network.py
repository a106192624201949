"""Replicate trainings of the reference network, and the cache an interrupted table resumes from."""

import dataclasses
import re

import numpy as np
import pytest

from stainworth.analysis.reference_network import TrainingCache, train_replicates, write_canvases
from stainworth.errors import InputDataError
from stainworth.profiles import load_profile

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SIDE = 24


@pytest.fixture(scope="module")
def canvases(tmp_path_factory):
    """60 discs per class on a black canvas, the treated ones brighter; 20/10/30 per class train/val/test."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:SIDE, :SIDE]
    disc = (yy - SIDE / 2) ** 2 + (xx - SIDE / 2) ** 2 < (SIDE / 3) ** 2
    label = np.repeat([0, 1], 60).astype(np.uint8)
    level = 1.0 + 0.6 * label[:, None, None]
    images = {name: (disc * level + rng.normal(0, 0.5, (label.size, SIDE, SIDE))).astype(np.float32)
              for name in ("label_free", "fluorescence")}
    split = np.tile(np.repeat(["train", "val", "test"], [20, 10, 30]), 2)
    folder = tmp_path_factory.mktemp("canvases") / "dataset"
    write_canvases(folder, images, np.broadcast_to(disc, (label.size, SIDE, SIDE)).astype(np.uint8), label, split)
    return folder


@pytest.fixture(scope="module")
def training():
    return load_profile("mini").tasks.classification.training.model_copy(update={"batch_size": 8})


def _train(canvases, training, cache, lines=None):
    log = (lines.append if lines is not None else lambda line: None)
    return train_replicates(canvases, "label_free", training, architecture="cnn1", replicates=2, max_epochs=2,
                            log=log, cache=cache)


def test_a_second_run_reads_every_replicate_from_the_cache(canvases, training, tmp_path):
    cache = TrainingCache(tmp_path / "trainings", images_key="a" * 64)
    first_lines, second_lines = [], []
    first = _train(canvases, training, cache, first_lines)
    assert len(list((tmp_path / "trainings").glob("*.npz"))) == 2
    assert not list((tmp_path / "trainings").glob(".*"))  # nothing half-written left behind
    second = _train(canvases, training, cache, second_lines)
    assert any("epoch" in line for line in first_lines)
    assert len(second_lines) == 2 and all("read from" in line for line in second_lines)
    # assert_equal: NaN equals NaN (a p-value is undefined when the replicates' variance is 0)
    for a, b in zip(first.trainings, second.trainings, strict=True):
        np.testing.assert_equal(dataclasses.asdict(a), dataclasses.asdict(b))
    np.testing.assert_equal(dataclasses.asdict(first.combined), dataclasses.asdict(second.combined))


def test_the_cache_reproduces_an_uncached_training(canvases, training, tmp_path):
    cached = _train(canvases, training, TrainingCache(tmp_path / "trainings", images_key="b" * 64))
    plain = _train(canvases, training, None)
    for a, b in zip(cached.trainings, plain.trainings, strict=True):
        np.testing.assert_array_equal(a.scores, b.scores)


def test_other_images_or_settings_are_other_keys(training):
    cache = TrainingCache("unused", images_key="c" * 64)
    base = cache.key("label_free", training, architecture="cnn1", replicate=0, max_epochs=None)
    others = [TrainingCache("unused", images_key="d" * 64).key("label_free", training, architecture="cnn1",
                                                             replicate=0, max_epochs=None),
              cache.key("fluorescence", training, architecture="cnn1", replicate=0, max_epochs=None),
              cache.key("label_free", training.model_copy(update={"seed": 1}), architecture="cnn1", replicate=0,
                        max_epochs=None),
              cache.key("label_free", training, architecture="resnet18", replicate=0, max_epochs=None),
              cache.key("label_free", training, architecture="cnn1", replicate=1, max_epochs=None),
              cache.key("label_free", training, architecture="cnn1", replicate=0, max_epochs=3)]
    assert len({base, *others}) == 7


def test_a_file_that_is_not_its_keys_outcome_is_refused(canvases, training, tmp_path):
    cache = TrainingCache(tmp_path / "trainings", images_key="e" * 64)
    _train(canvases, training, cache)
    first, second = sorted((tmp_path / "trainings").glob("*.npz"))
    first.write_bytes(second.read_bytes())
    refused = re.escape(f"training cache {first}: holds key {second.stem!r}") + ".*expected key"
    with pytest.raises(InputDataError, match=refused):
        _train(canvases, training, cache)
    first.write_bytes(b"not a numpy archive")
    with pytest.raises(InputDataError, match=re.escape(f"training cache {first}: cannot be read")):
        _train(canvases, training, cache)
