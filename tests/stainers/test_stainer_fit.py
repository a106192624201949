"""The training loop: learning, early stopping, best weights, resume == uninterrupted, NaN handling."""

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from stainworth.contracts.stainer import StainerTrainConfig
from stainworth.errors import TrainingError
from stainworth.nets.normalise import PercentileNormaliser
from stainworth.stainers.adapters import RegressionStainer
from stainworth.stainers.batches import PairedBatches
from stainworth.stainers.fit import BEST, CHECKPOINT, fit

IDENTITY = (PercentileNormaliser(0.0, 1.0), PercentileNormaliser(0.0, 1.0))


def pairs(n, seed):
    """Targets are a fixed local function of the inputs (a blur plus an offset): learnable by a small CNN."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 24, 24)).astype(np.float32)
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)), mode="edge")
    y = sum(padded[:, dy:dy + 24, dx:dx + 24] for dy in range(3) for dx in range(3)) / 9.0 + 0.25
    return x, y.astype(np.float32)


def small_stainer(learning_rate=3e-3):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 1, 3, padding=1))
    return RegressionStainer(net, alpha=0.9, learning_rate=learning_rate)


@pytest.fixture(scope="module")
def data():
    train, val = pairs(32, 0), pairs(8, 1)
    return (PairedBatches(*train, IDENTITY, batch_size=8, chunk=8),
            PairedBatches(*val, IDENTITY, batch_size=8, chunk=8))


def run(stainer, data, folder, epochs, patience=10, lines=None):
    return fit(stainer, *data, folder, StainerTrainConfig(max_epochs=epochs, patience=patience, seed=3),
               log=(lines.append if lines is not None else lambda line: None))


def test_training_lowers_the_validation_loss_and_keeps_the_best_epoch(data, tmp_path):
    lines = []
    result = run(small_stainer(), data, tmp_path, 6, lines=lines)
    losses = [row["val_loss"] for row in result.history]
    assert losses[-1] < 0.5 * losses[0]
    assert result.best_epoch == int(np.argmin(losses)) + 1 and result.epochs_run == 6
    assert (tmp_path / BEST).is_file() and (tmp_path / CHECKPOINT).is_file()
    assert lines[0].startswith("train_stainer epoch 1/6 loss ") and "val_ssim" in lines[0] and "ETA" in lines[0]


def test_best_weights_are_those_of_the_best_epoch_not_the_last(data, tmp_path):
    stainer = small_stainer(learning_rate=0.2)  # too high: the validation loss rises after epoch 4
    result = run(stainer, data, tmp_path / "long", 6)
    assert result.best_epoch == 4 and result.epochs_run == 6
    shorter = small_stainer(learning_rate=0.2)
    run(shorter, data, tmp_path / "short", 4)
    best = load_file(str(tmp_path / "long" / BEST))
    assert all(torch.equal(best[k], v) for k, v in shorter.generator.state_dict().items())
    assert any(not torch.equal(best[k], v) for k, v in stainer.generator.state_dict().items())


def test_early_stopping_after_patience_epochs_without_improvement(data, tmp_path):
    stainer = small_stainer(learning_rate=1e-12)  # nothing changes: no epoch improves on the first
    result = run(stainer, data, tmp_path, 20, patience=3)
    assert result.stopped_early and result.epochs_run == 4 and result.best_epoch == 1


def test_small_decreases_do_not_restart_the_patience_when_a_relative_improvement_is_asked_for(data, tmp_path):
    full = run(small_stainer(learning_rate=1e-3), data, tmp_path / "any", 12)
    losses = np.array([row["val_loss"] for row in full.history])
    steps = losses[1:] / np.minimum.accumulate(losses)[:-1]
    assert np.all(steps < 1) and np.all(steps > 0.75)  # decreases every epoch, by less than 25%
    strict = fit(small_stainer(learning_rate=1e-3), *data, tmp_path / "strict",
                 StainerTrainConfig(max_epochs=12, patience=3, seed=3, min_improvement=0.25), log=lambda line: None)
    assert full.epochs_run == 12 and not full.stopped_early
    assert strict.stopped_early and strict.epochs_run == 4
    assert strict.best_epoch == 4  # the lowest loss is still the best epoch


def test_a_resumed_training_ends_exactly_like_an_uninterrupted_one(data, tmp_path):
    whole = small_stainer()
    run(whole, data, tmp_path / "whole", 4)
    first_half = small_stainer()
    run(first_half, data, tmp_path / "split", 2)
    lines = []
    resumed = small_stainer()  # a new process would start from fresh weights
    result = run(resumed, data, tmp_path / "split", 4, lines=lines)
    assert lines[0].startswith("train_stainer: resuming after epoch 2")
    assert result.epochs_run == 4 and len(result.history) == 4
    for key, value in whole.generator.state_dict().items():
        assert torch.equal(value, resumed.generator.state_dict()[key]), key
    assert load_file(str(tmp_path / "whole" / BEST)).keys() == load_file(str(tmp_path / "split" / BEST)).keys()


def test_a_checkpoint_of_another_configuration_is_not_resumed(data, tmp_path):
    run(small_stainer(), data, tmp_path, 1)
    with pytest.raises(TrainingError, match="checkpoint of a different training configuration"):
        fit(small_stainer(), *data, tmp_path, StainerTrainConfig(max_epochs=2, patience=10, seed=4),
            log=lambda line: None)


def test_a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(data, tmp_path):
    stainer = small_stainer()
    run(stainer, data, tmp_path, 1)
    saved = (tmp_path / CHECKPOINT).read_bytes()
    x, y = pairs(16, 5)
    y[3, 2, 2] = np.nan
    poisoned = (PairedBatches(x, y, IDENTITY, batch_size=8, chunk=8), data[1])
    with pytest.raises(TrainingError, match=r"not finite at epoch 2, batch \d; the checkpoint of epoch 1 is kept"):
        fit(stainer, *poisoned, tmp_path, StainerTrainConfig(max_epochs=3, patience=10, seed=3),
            log=lambda line: None, settings=None)
    assert (tmp_path / CHECKPOINT).read_bytes() == saved


def test_the_learning_rate_falls_on_each_plateau_and_a_resumed_training_follows_it(data, tmp_path):
    config = StainerTrainConfig(max_epochs=8, patience=10, seed=3, plateau_factor=0.1, plateau_patience=1)
    whole = small_stainer(learning_rate=0.2)  # too high: the validation loss rises after epoch 4
    result = fit(whole, *data, tmp_path / "whole", config, log=lambda line: None)
    losses = [row["val_loss"] for row in result.history]
    scales = [row["learning_rate_scale"] for row in result.history]
    expected, scale, best = [], 1.0, np.inf
    for loss in losses:
        expected.append(scale)
        best, scale = (loss, scale) if loss < best else (best, scale * 0.1)
    assert scales == pytest.approx(expected) and min(scales) < 1
    assert whole.optimizer.param_groups[0]["lr"] == pytest.approx(0.2 * scales[-1])
    constant = run(small_stainer(learning_rate=0.2), data, tmp_path / "constant", 8)
    assert [row["learning_rate_scale"] for row in constant.history] == [1.0] * 8
    fit(small_stainer(learning_rate=0.2), *data, tmp_path / "split", config.model_copy(update={"max_epochs": 5}),
        log=lambda line: None)
    resumed = small_stainer(learning_rate=0.2)
    again = fit(resumed, *data, tmp_path / "split", config, log=lambda line: None)
    assert [row["learning_rate_scale"] for row in again.history] == scales
    for key, value in whole.generator.state_dict().items():
        assert torch.equal(value, resumed.generator.state_dict()[key]), key
    with pytest.raises(TrainingError, match="checkpoint of a different training configuration"):
        run(small_stainer(learning_rate=0.2), data, tmp_path / "split", 9)  # the same, without the plateau
