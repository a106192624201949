"""Task-network training: it learns, keeps the best epoch, resumes exactly, stops on NaN, times the data path."""

import math

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from stainworth.errors import ConfigError, TrainingError
from stainworth.nets.normalise import PercentileNormaliser
from stainworth.nets.schedule import LearningRateSchedule
from stainworth.nets.training import BEST, CHECKPOINT
from stainworth.tasks import build_task_net
from stainworth.tasks.data import TaskBatches
from stainworth.tasks.fit import fit_task, validate_task
from stainworth.tasks.fit_plan import TaskFitPlan

TIMING = {"seconds", "data_seconds", "step_seconds", "val_seconds"}


def splits(dataset, batch_size=8, augment="dihedral"):
    norm = PercentileNormaliser.from_statistics(dataset.stats, "label_free")
    return (TaskBatches(dataset, "train", "label_free", norm, batch_size=batch_size, augment=augment),
            TaskBatches(dataset, "val", "label_free", norm, batch_size=16))


def net(name):
    torch.manual_seed(0)
    return build_task_net(name)


def train(model, data, folder, *, epochs, task, lines=None, learning_rate=1e-2, patience=10, schedule=None,
          **kwargs):
    plan = TaskFitPlan(task=task, max_epochs=epochs, patience=patience, seed=3, learning_rate=learning_rate,
                       schedule=schedule or LearningRateSchedule())
    return fit_task(model, *data, folder, plan, log=(lines.append if lines is not None else lambda line: None),
                    **kwargs)


def test_a_small_cnn_separates_bright_from_dark_nuclei(classification_dataset, tmp_path):
    lines = []
    result = train(net("cnn1"), splits(classification_dataset), tmp_path, epochs=6, task="classification",
                   lines=lines, prefix="run 2/5 cnn1")
    assert result.best["val_auc"] > 0.9 and result.history[-1]["val_loss"] < 0.8 * result.history[0]["val_loss"]
    assert lines[0].startswith("run 2/5 cnn1 epoch 1/6 loss ") and "val_auc" in lines[0]
    assert "data wait" in lines[0] and "ETA" in lines[0] and len(lines) == 6


def test_unet1_learns_a_thresholdable_mask(segmentation_dataset, tmp_path):
    lines = []
    result = train(net("unet1"), splits(segmentation_dataset), tmp_path, epochs=6, task="segmentation", lines=lines)
    assert result.best["val_dice"] > 0.8
    assert lines[-1].startswith("train_task epoch 6/6 loss ") and "val_dice" in lines[-1]


def test_the_result_reports_data_wait_and_step_time(classification_dataset, tmp_path):
    result = train(net("cnn1"), splits(classification_dataset), tmp_path, epochs=2, task="classification")
    assert result.data_seconds > 0 and result.step_seconds > 0 and 0 < result.data_share < 1
    assert result.step_seconds <= sum(row["seconds"] for row in result.history)
    assert set(result.history[0]) == {"epoch", "loss", "val_loss", "val_auc", "learning_rate", "val_output_sd"} | TIMING


def test_the_best_epoch_is_kept_on_disk_and_restored(classification_dataset, tmp_path):
    model = net("cnn1")
    data = splits(classification_dataset)
    result = train(model, data, tmp_path, epochs=4, task="classification", learning_rate=0.3)
    losses = [row["val_loss"] for row in result.history]
    assert result.best_epoch == int(np.argmin(losses)) + 1 and result.weights == tmp_path / BEST
    best = load_file(str(tmp_path / BEST))
    assert all(torch.equal(best[k], v) for k, v in model.state_dict().items())
    last = net("cnn1")
    train(last, data, tmp_path / "last", epochs=4, task="classification", learning_rate=0.3, restore_best=False)
    saved = torch.load(tmp_path / "last" / CHECKPOINT, weights_only=True)["net"]
    assert all(torch.equal(saved[k], v) for k, v in last.state_dict().items())


def test_early_stopping_after_patience_epochs_without_improvement(classification_dataset, tmp_path):
    result = train(net("cnn1"), splits(classification_dataset), tmp_path, epochs=20, task="classification",
                   learning_rate=1e-12, patience=2)
    assert result.stopped_early and result.epochs_run == 3 and result.best_epoch == 1


def test_a_training_that_stopped_early_leaves_its_state_alone_and_resumes_to_its_best_weights(
        classification_dataset, tmp_path):
    data = splits(classification_dataset)
    first = net("cnn1")
    result = train(first, data, tmp_path, epochs=20, task="classification", learning_rate=0.05, patience=1)
    assert result.stopped_early and 1 < result.best_epoch < result.epochs_run < 20
    payload = torch.load(tmp_path / CHECKPOINT, weights_only=True)
    assert set(payload) == {"state"} and payload["state"]["final"] is True  # no network, no optimiser moments
    again, lines = net("cnn1"), []
    resumed = train(again, data, tmp_path, epochs=40, task="classification", learning_rate=0.05, patience=1,
                    lines=lines, restore_best=False)
    assert (resumed.epochs_run, resumed.best_epoch, resumed.stopped_early) == (result.epochs_run, result.best_epoch,
                                                                               True)
    assert resumed.history == result.history and len(lines) == 1 and "resuming after epoch" in lines[0]
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), again.state_dict().values(),
                                                 strict=True))


def test_a_training_at_its_epoch_cap_keeps_everything_and_a_larger_cap_continues_it(classification_dataset,
                                                                                    tmp_path):
    data = splits(classification_dataset)
    capped = train(net("cnn1"), data, tmp_path, epochs=2, task="classification", patience=10)
    assert not capped.stopped_early
    assert {"net", "optimizer", "state"} <= set(torch.load(tmp_path / CHECKPOINT, weights_only=True))
    longer = train(net("cnn1"), data, tmp_path, epochs=3, task="classification", patience=10)
    assert longer.epochs_run == 3 and longer.history[:2] == capped.history


def test_a_resumed_training_ends_exactly_like_an_uninterrupted_one(segmentation_dataset, tmp_path):
    _, val = splits(segmentation_dataset)
    subset = TaskBatches(segmentation_dataset, "train", "label_free", val.normaliser, batch_size=4,
                         indices=np.arange(0, 40, 3), augment="dihedral")
    data = (subset, val)
    whole = train(net("unet1"), data, tmp_path / "whole", epochs=4, task="segmentation")
    train(net("unet1"), data, tmp_path / "split", epochs=2, task="segmentation")
    lines = []
    resumed = train(net("unet1"), data, tmp_path / "split", epochs=4, task="segmentation", lines=lines)
    assert lines[0].startswith("train_task: resuming after epoch 2 from ") and len(lines) == 3
    assert resumed.epochs_run == 4 and resumed.best_epoch == whole.best_epoch

    def untimed(history):
        return [{k: v for k, v in row.items() if k not in TIMING} for row in history]

    assert untimed(resumed.history) == untimed(whole.history)
    for name in (CHECKPOINT, BEST):
        if name == CHECKPOINT:
            a = torch.load(tmp_path / "whole" / name, weights_only=True)["net"]
            b = torch.load(tmp_path / "split" / name, weights_only=True)["net"]
        else:
            a, b = load_file(str(tmp_path / "whole" / name)), load_file(str(tmp_path / "split" / name))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name


def test_a_resumed_training_with_a_plateau_schedule_ends_exactly_like_an_uninterrupted_one(segmentation_dataset,
                                                                                            tmp_path):
    _, val = splits(segmentation_dataset)
    subset = TaskBatches(segmentation_dataset, "train", "label_free", val.normaliser, batch_size=4,
                         indices=np.arange(0, 40, 3))
    schedule = LearningRateSchedule(warmup_epochs=2, plateau_factor=0.5, plateau_patience=1)
    whole = train(net("unet1"), (subset, val), tmp_path / "whole", epochs=5, task="segmentation", schedule=schedule,
                  learning_rate=0.5)
    train(net("unet1"), (subset, val), tmp_path / "split", epochs=3, task="segmentation", schedule=schedule,
          learning_rate=0.5)
    resumed = train(net("unet1"), (subset, val), tmp_path / "split", epochs=5, task="segmentation",
                    schedule=schedule, learning_rate=0.5)
    rates = [row["learning_rate"] for row in whole.history]
    assert rates[:2] == [pytest.approx(0.05), pytest.approx(0.275)]
    assert [row["learning_rate"] for row in resumed.history] == rates
    assert [row["val_loss"] for row in resumed.history] == [row["val_loss"] for row in whole.history]


def test_a_minimum_improvement_stops_a_creeping_training_sooner(segmentation_dataset, tmp_path):
    data = splits(segmentation_dataset)
    runs = {threshold: train(net("unet1"), data, tmp_path / str(threshold), epochs=30, task="segmentation",
                             patience=2, learning_rate=0.05,
                             schedule=LearningRateSchedule(min_improvement=threshold))
            for threshold in (0.0, 0.2)}
    strict = runs[0.2]
    assert strict.stopped_early and strict.epochs_run < runs[0.0].epochs_run
    losses = [row["val_loss"] for row in strict.history]
    assert strict.best_epoch == int(np.argmin(losses)) + 1  # the best epoch is still the lowest loss
    assert all(loss >= 0.8 * min(losses[:-2]) for loss in losses[-2:])  # the last two were not 20% lower


def test_a_checkpoint_of_another_configuration_is_not_resumed(classification_dataset, tmp_path):
    data = splits(classification_dataset)
    train(net("cnn1"), data, tmp_path, epochs=1, task="classification", settings={"modality": "label_free"})
    with pytest.raises(TrainingError, match="checkpoint of a different training configuration or data"):
        train(net("cnn1"), data, tmp_path, epochs=2, task="classification", settings={"modality": "virtual"})
    subset = TaskBatches(classification_dataset, "train", "label_free", data[0].normaliser, batch_size=8,
                         indices=range(20), augment="dihedral")
    with pytest.raises(TrainingError, match="checkpoint of a different training configuration or data"):
        train(net("cnn1"), (subset, data[1]), tmp_path, epochs=2, task="classification",
              settings={"modality": "label_free"})


def test_a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(classification_dataset, tmp_path):
    data = splits(classification_dataset)
    model = net("cnn1")
    train(model, data, tmp_path, epochs=1, task="classification")
    saved, best = (tmp_path / CHECKPOINT).read_bytes(), (tmp_path / BEST).read_bytes()
    poisoned = splits(classification_dataset)[0]
    poisoned.inputs[5, 3, 3] = np.nan  # the batches refuse NaN pixels; here a stainer "went wrong" after loading
    with pytest.raises(TrainingError, match=r"^run 1/1: loss is not finite at epoch 2, batch \d; the checkpoint of "
                                            r"epoch 1 is kept in .*checkpoint.pt \(lower the learning rate"):
        train(model, (poisoned, data[1]), tmp_path, epochs=3, task="classification", prefix="run 1/1")
    assert (tmp_path / CHECKPOINT).read_bytes() == saved and (tmp_path / BEST).read_bytes() == best
    with pytest.raises(TrainingError, match=r"at epoch 1, batch \d; nothing was saved"):
        train(net("cnn1"), (poisoned, data[1]), tmp_path / "fresh", epochs=3, task="classification")
    assert not (tmp_path / "fresh" / CHECKPOINT).exists()


def test_validation_auc_is_nan_when_a_class_has_fewer_than_two_cases(classification_dataset):
    norm = PercentileNormaliser.from_statistics(classification_dataset.stats, "label_free")
    one_treated = TaskBatches(classification_dataset, "val", "label_free", norm, batch_size=4, indices=[0, 1, 2, 4])
    scores = validate_task(net("cnn1"), one_treated)
    assert math.isnan(scores["val_auc"]) and math.isfinite(scores["val_loss"])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"task": "detection"}, r"task 'detection': expected one of segmentation, classification"),
    ({"task": "segmentation"}, r"split 'train': a classification split; the task is segmentation"),
    ({"epochs": 0}, r"max_epochs 0, patience 10: expected integers >= 1"),
    ({"patience": 0}, r"max_epochs 2, patience 0: expected integers >= 1"),
    ({"learning_rate": 0.0}, r"learning_rate 0.0: expected a positive number"),
])
def test_bad_arguments_are_config_errors(classification_dataset, tmp_path, kwargs, message):
    arguments = {"epochs": 2, "task": "classification"} | kwargs
    with pytest.raises(ConfigError, match=message):
        train(net("cnn1"), splits(classification_dataset), tmp_path, **arguments)
