"""The crossover rule along the capacity and training-size axes, and its sentences."""

import numpy as np
import pandas as pd
import pytest

from stainworth.errors import ConfigError, InputDataError
from stainworth.evaluation import capacity_table, crossover, crossover_sentence

LADDER = [("unet1", 1_234), ("unet2", 60_305), ("unet3", 1_000_000), ("efficientunet7", 20_000_000)]


def capacity_rows(label_free, stainer, *, half_width=0.02, task="segmentation", metric="dice"):
    """A capacity table: one label_free and one virtual_effunet row per architecture of LADDER."""
    rows = []
    for (arch, cap), lf, st in zip(LADDER, label_free, stainer, strict=True):
        for modality, value in (("virtual_effunet", st), ("label_free", lf)):
            rows.append({"task": task, "architecture": arch, "modality": modality, "capacity": cap, metric: value,
                         f"{metric}_ci_low": value - half_width, f"{metric}_ci_high": value + half_width})
    return pd.DataFrame(rows[::-1])  # reversed: crossover sorts the rows itself


def learnable_rows(architecture, sizes, label_free, stainer, std=0.01):
    rows = [{"task": "segmentation", "architecture": architecture, "train_size": size, "modality": modality,
             "capacity": 66_000_000, "n_subsets": 3, "dice_mean": value, "dice_std": std}
            for size, lf, st in zip(sizes, label_free, stainer, strict=True)
            for modality, value in (("label_free", lf), ("virtual_effunet", st))]
    return pd.DataFrame(rows)


def test_crossover_in_a_ladder():
    result = crossover(capacity_rows([0.5, 0.7, 0.82, 0.85], [0.8, 0.8, 0.81, 0.83]), "segmentation",
                       "virtual_effunet", "dice")
    assert (result.architecture, result.capacity, result.train_size, result.index) == ("unet3", 1_000_000, None, 2)
    assert result.reached and result.axis == "capacity"
    assert [s.reached for s in result.steps] == [False, False, True, True]
    assert [s.intervals_overlap for s in result.steps] == [False, False, True, True]
    assert crossover_sentence(result) == (
        "Label-free images reach virtual_effunet's Dice from unet3 (1,000,000 parameters) on; below that, "
        "virtual_effunet images score higher. At unet3 (1,000,000 parameters), label-free 0.820 vs virtual_effunet "
        "0.810; their confidence intervals overlap.")


def test_never_reached():
    result = crossover(capacity_rows([0.5, 0.6, 0.7, 0.75], [0.8, 0.8, 0.81, 0.83]), "segmentation",
                       "virtual_effunet", "dice")
    assert result.architecture is None and result.capacity is None and not result.reached and result.step is None
    assert crossover_sentence(result) == (
        "Label-free images never reach virtual_effunet's Dice within the capacities tried, up to efficientunet7 "
        "(20,000,000 parameters). At efficientunet7 (20,000,000 parameters), label-free 0.750 vs virtual_effunet "
        "0.830; their confidence intervals do not overlap.")


def test_reached_only_below_the_largest():
    result = crossover(capacity_rows([0.5, 0.85, 0.7, 0.75], [0.8, 0.8, 0.81, 0.83]), "segmentation",
                       "virtual_effunet", "dice")
    assert result.architecture is None
    assert crossover_sentence(result).startswith(
        "Label-free images fall short of virtual_effunet's Dice at unet1 (1,234 parameters), unet3 (1,000,000 "
        "parameters) and efficientunet7 (20,000,000 parameters), the largest capacity tried included; they reach it "
        "at unet2 (60,305 parameters).")


def test_non_monotone_ladder_names_the_exception():
    result = crossover(capacity_rows([0.5, 0.85, 0.7, 0.9], [0.8, 0.8, 0.81, 0.83]), "segmentation",
                       "virtual_effunet", "dice")
    assert result.architecture == "efficientunet7"
    assert "below that, virtual_effunet images score higher except at unet2 (60,305 parameters)." in \
        crossover_sentence(result)


def test_reached_everywhere_and_ties_count():
    result = crossover(capacity_rows([0.8, 0.8, 0.9, 0.9], [0.8, 0.8, 0.81, 0.83]), "segmentation",
                       "virtual_effunet", "dice")
    assert result.architecture == "unet1" and result.capacity == 1_234
    assert crossover_sentence(result).startswith(
        "Label-free images reach virtual_effunet's Dice at every capacity tried, from unet1 (1,234 parameters) to "
        "efficientunet7 (20,000,000 parameters).")


def test_undefined_interval_is_not_called_overlapping():
    table = capacity_rows([0.6, 0.7, 0.8, 0.9], [0.7, 0.7, 0.7, 0.7], task="classification", metric="binormal_auc")
    table.loc[table["architecture"] == "efficientunet7", "binormal_auc_ci_low"] = np.nan
    result = crossover(table, "classification", "virtual_effunet", "binormal_auc")
    assert result.architecture == "unet2" and result.steps[-1].intervals_overlap is None
    assert "binormal AUC from unet2 (60,305 parameters) on" in crossover_sentence(result)


def test_training_size_axis():
    table = learnable_rows("efficientunet7", [100, 1000, 5000, 15000], [0.5, 0.7, 0.86, 0.88], [0.8, 0.8, 0.85, 0.86])
    result = crossover(table.iloc[::-1], "segmentation", "virtual_effunet", "dice")
    assert (result.axis, result.architecture, result.train_size) == ("train_size", "efficientunet7", 5000)
    assert crossover_sentence(result) == (
        "With efficientunet7 (66,000,000 parameters), label-free images reach virtual_effunet's Dice from 5,000 "
        "training images on; below that, virtual_effunet images score higher. At 5,000 training images, label-free "
        "0.860 vs virtual_effunet 0.850; their mean ± 1 SD ranges over training subsets overlap.")


def test_training_size_axis_never_and_everywhere():
    never = crossover(learnable_rows("resnet101", [100, 10000], [0.5, 0.6], [0.8, 0.8]), "segmentation",
                      "virtual_effunet", "dice")
    assert never.train_size is None and never.architecture is None
    assert "never reach virtual_effunet's Dice within the training sizes tried, up to 10,000 training images." in \
        crossover_sentence(never)
    everywhere = crossover(learnable_rows("resnet101", [100, 10000], [0.9, 0.9], [0.8, 0.8]), "segmentation",
                           "virtual_effunet", "dice")
    assert "at every training size tried, from 100 to 10,000 training images." in crossover_sentence(everywhere)


def test_training_size_axis_with_several_architectures():
    table = pd.concat([learnable_rows("unet1", [100, 1000], [0.5, 0.9], [0.8, 0.8]),
                       learnable_rows("efficientunet7", [100, 1000], [0.9, 0.9], [0.8, 0.8])])
    with pytest.raises(ConfigError, match=r"architecture: the learnable table holds unet1, efficientunet7; expected "
                                          r"one to be named"):
        crossover(table, "segmentation", "virtual_effunet", "dice")
    assert crossover(table, "segmentation", "virtual_effunet", "dice", architecture="unet1").train_size == 1000
    with pytest.raises(InputDataError, match=r"table: has no rows of architecture 'unet9'"):
        crossover(table, "segmentation", "virtual_effunet", "dice", architecture="unet9")


def test_from_units_end_to_end(make_segmentation):
    units = [make_segmentation(arch, modality, dice, capacity=cap, seed=k)
             for k, ((arch, cap), dice_lf) in enumerate(zip(LADDER[:3], [0.5, 0.7, 0.8], strict=True))
             for modality, dice in (("label_free", dice_lf), ("virtual_effunet", 0.75))]
    result = crossover(capacity_table(units, n_boot=500), "segmentation", "virtual_effunet", "dice")
    assert result.architecture == "unet3" and "unet3 (1,000,000 parameters)" in crossover_sentence(result)


@pytest.mark.parametrize(("task", "stainer", "metric", "error", "message"), [
    ("detection", "virtual_effunet", "dice", ConfigError, r"task: found 'detection'; expected one of segmentation"),
    ("segmentation", "virtual_effunet", "auc", ConfigError, r"metric: found 'auc' for segmentation; expected one of "
                                                            r"precision, recall, dice"),
    ("segmentation", "label_free", "dice", ConfigError, r"stainer_modality: found 'label_free'; expected one of "
                                                        r"virtual_effunet, virtual_pix2pixhd, fluorescence"),
    ("classification", "virtual_effunet", "auc", InputDataError, r"table: holds rows of task\(s\) \['segmentation'\]; "
                                                                 r"expected only classification rows"),
    ("segmentation", "virtual_effunet", "recall", InputDataError, r"table: lacks column\(s\) recall, recall_ci_low, "
                                                                  r"recall_ci_high"),
    ("segmentation", "fluorescence", "dice", InputDataError, r"table: has no fluorescence row at architecture unet1; "
                                                             r"expected label_free and fluorescence at every step"),
])
def test_refused_requests(task, stainer, metric, error, message):
    table = capacity_rows([0.5, 0.7, 0.82, 0.85], [0.8, 0.8, 0.81, 0.83])
    with pytest.raises(error, match=message):
        crossover(table, task, stainer, metric)


def test_empty_table():
    table = capacity_rows([0.5, 0.7, 0.82, 0.85], [0.8, 0.8, 0.81, 0.83]).iloc[:0]
    with pytest.raises(InputDataError, match=r"table: holds rows of task\(s\) \[\]"):
        crossover(table, "segmentation", "virtual_effunet", "dice")
