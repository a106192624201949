"""Learning-rate schedules: warm-up, then a lower rate on every plateau of the validation loss."""

import pytest
import torch

from stainworth.nets.schedule import LearningRateSchedule, epoch_learning_rate, set_learning_rate


def test_the_learning_rate_warms_up_then_falls_on_every_plateau():
    schedule = LearningRateSchedule(warmup_epochs=3, plateau_factor=0.1, plateau_patience=2)
    rows = [{"val_loss": v} for v in (1.0, 0.9, 0.8, 0.7, 0.75, 0.76, 0.77, 0.6, 0.61)]
    rates = [epoch_learning_rate(1.0, schedule, rows[:k]) for k in range(len(rows) + 1)]
    assert rates == pytest.approx([0.1, 0.4, 0.7, 1.0, 1.0, 1.0, 0.1, 0.1, 0.1, 0.1])
    assert epoch_learning_rate(1.0, LearningRateSchedule(), rows) == 1.0  # the default is constant


def test_the_plateau_follows_every_decrease_whatever_early_stopping_asks_for():
    rows = [{"val_loss": v} for v in (1.0, 0.97, 0.96, 0.9, 0.89)]
    for threshold in (0.0, 0.05):
        schedule = LearningRateSchedule(plateau_factor=0.1, plateau_patience=2, min_improvement=threshold)
        assert [epoch_learning_rate(1.0, schedule, rows[:k]) for k in range(len(rows) + 1)] == [1.0] * 6


def test_set_learning_rate_sets_every_group():
    a, b = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(3))
    optimizer = torch.optim.Adam([{"params": [a], "lr": 0.1}, {"params": [b], "lr": 0.2}])
    set_learning_rate(optimizer, 0.03)
    assert [group["lr"] for group in optimizer.param_groups] == [0.03, 0.03]
