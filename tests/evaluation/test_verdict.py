"""The verdict: significant steps from Holm-adjusted combined comparisons, the crossover, the study verdict."""

import json

import numpy as np
import pandas as pd
import pytest

from stainworth.errors import ConfigError, InputDataError
from stainworth.evaluation import crossover, crossover_sentence, paired_comparisons, study_verdict
from stainworth.evaluation.verdict import FAMILY_WORDS

LADDER = [("unet1", 1_234), ("unet2", 60_305), ("unet3", 1_000_000), ("efficientunet7", 20_000_000)]


def comparison_rows(differences, p_adjusted, *, metric="dice", task="segmentation", modality="virtual_effunet",
                    sizes=None, architecture="efficientunet7"):
    """A combined comparisons table along the capacity ladder (or along training sizes of one architecture)."""
    rows = []
    steps = [(arch, cap, pd.NA) for arch, cap in LADDER] if sizes is None else \
        [(architecture, 66_000_000, size) for size in sizes]
    axis = "capacity" if sizes is None else "train_size"
    for (arch, cap, size), difference, p in zip(steps, differences, p_adjusted, strict=True):
        rows.append({"task": task, "architecture": arch, "train_size": size, "capacity": cap, "modality": modality,
                     "reference": "label_free", "metric": metric, "difference": difference,
                     "ci_low": difference - 0.02, "ci_high": difference + 0.02, "df": 2.5, "p_value": p / 2,
                     "p_adjusted": p, "family": f"{modality} {metric} {axis}", "replicates": 3})
    return pd.DataFrame(rows[::-1]).astype({"train_size": "Int64"})  # reversed: crossover sorts the rows itself


def test_crossover_after_the_last_significant_advantage():
    result = crossover(comparison_rows([0.10, 0.08, 0.01, 0.0], [0.001, 0.01, 0.5, 0.9]), "segmentation",
                       "virtual_effunet", "dice")
    assert [step.status for step in result.steps] == ["better", "better", "undecided", "undecided"]
    assert (result.architecture, result.capacity, result.train_size, result.index) == ("unet3", 1_000_000, None, 2)
    assert result.reached and result.decided and result.family == "virtual_effunet dice capacity"
    assert crossover_sentence(result) == (
        "virtual_effunet images score a significantly higher Dice than label-free images at unet1 (1,234 parameters) "
        "and unet2 (60,305 parameters); from unet3 (1,000,000 parameters) on, no step shows a significant advantage "
        "(Holm-adjusted over the 4 capacities of family 'virtual_effunet dice capacity', alpha = 0.05); at unet3 "
        "(1,000,000 parameters): +0.010, 95% CI -0.010 to +0.030, df 2.5, Holm-adjusted p = 0.5.")


def test_point_estimates_alone_decide_nothing():
    """Label-free's point estimate is higher from unet2 on, but nothing is significant: no crossover is claimed."""
    result = crossover(comparison_rows([0.03, -0.01, -0.02, -0.04], [0.2, 0.8, 0.6, 0.3]), "segmentation",
                       "virtual_effunet", "dice")
    assert not result.decided and not result.reached and result.architecture is None
    assert crossover_sentence(result) == (
        "The data cannot decide at this scale whether virtual_effunet images score a different Dice than label-free "
        "images: no difference is significant (Holm-adjusted over the 4 capacities of family 'virtual_effunet dice "
        "capacity', alpha = 0.05); the largest, at efficientunet7 (20,000,000 parameters), is -0.040, 95% CI -0.060 "
        "to -0.020, df 2.5, Holm-adjusted p = 0.3.")


def test_raw_p_values_below_alpha_do_not_count_after_holm():
    table = comparison_rows([0.05, 0.05, 0.05, 0.05], [0.08, 0.08, 0.08, 0.08])  # raw p 0.04 each
    assert not crossover(table, "segmentation", "virtual_effunet", "dice").decided


def test_still_better_at_the_largest_step_is_no_crossover():
    result = crossover(comparison_rows([0.10, 0.01, 0.08, 0.06], [0.001, 0.7, 0.01, 0.02]), "segmentation",
                       "virtual_effunet", "dice")
    assert result.index is None and result.decided
    assert "at unet1 (1,234 parameters), unet3 (1,000,000 parameters) and efficientunet7 (20,000,000 parameters), " \
           "the largest of the capacities tried included: no crossover within the capacities tried" in \
        crossover_sentence(result)


def test_label_free_significantly_better_is_named():
    crossing = crossover(comparison_rows([0.10, 0.0, -0.06, -0.08], [0.001, 0.9, 0.01, 0.001]), "segmentation",
                         "virtual_effunet", "dice")
    assert crossing.architecture == "unet2" and [s.status for s in crossing.steps][2:] == ["worse", "worse"]
    assert ("from unet2 (60,305 parameters) on, no step shows a significant advantage; label-free images score "
            "significantly higher at unet3 (1,000,000 parameters) and efficientunet7 (20,000,000 parameters)") in \
        crossover_sentence(crossing)
    never = crossover(comparison_rows([-0.10, 0.0, -0.06, 0.01], [0.001, 0.9, 0.01, 0.8]), "segmentation",
                      "virtual_effunet", "dice")
    assert never.index is None
    assert crossover_sentence(never).startswith(
        "virtual_effunet images never score a significantly higher Dice than label-free images within the "
        "capacities tried; label-free images score significantly higher at unet1 (1,234 parameters) and unet3")


def test_nan_p_values_are_undecided():
    table = comparison_rows([0.1, 0.1, 0.1, 0.1], [np.nan, 0.01, np.nan, np.nan])
    result = crossover(table, "segmentation", "virtual_effunet", "dice")
    assert [s.status for s in result.steps] == ["undecided", "better", "undecided", "undecided"]
    assert result.architecture == "unet3"


def test_training_size_axis():
    undecided = crossover(comparison_rows([0.0, 0.01], [0.9, 0.9], sizes=[100, 1000]), "segmentation",
                          "virtual_effunet", "dice", axis="train_size")
    assert crossover_sentence(undecided).startswith("With efficientunet7 (66,000,000 parameters), the data cannot "
                                                    "decide at this scale")
    table = comparison_rows([0.2, 0.1, 0.01, 0.0], [0.001, 0.01, 0.6, 0.6], sizes=[100, 1000, 5000, 15000])
    result = crossover(table, "segmentation", "virtual_effunet", "dice", axis="train_size")
    assert (result.axis, result.architecture, result.train_size) == ("train_size", "efficientunet7", 5000)
    assert crossover_sentence(result).startswith(
        "With efficientunet7 (66,000,000 parameters), virtual_effunet images score a significantly higher Dice than "
        "label-free images at 100 training images and 1,000 training images; from 5,000 training images on, no step "
        "shows a significant advantage (Holm-adjusted over the 4 training sizes of family 'virtual_effunet dice "
        "train_size', alpha = 0.05)")


def test_training_size_axis_with_several_architectures():
    table = pd.concat([comparison_rows([0.2, 0.0], [0.001, 0.9], sizes=[100, 1000], architecture="unet1"),
                       comparison_rows([0.0, 0.0], [0.9, 0.9], sizes=[100, 1000])])
    with pytest.raises(ConfigError, match=r"architecture: the learnable comparisons hold unet1, efficientunet7; "
                                          r"expected one to be named"):
        crossover(table, "segmentation", "virtual_effunet", "dice", axis="train_size")
    assert crossover(table, "segmentation", "virtual_effunet", "dice", axis="train_size",
                     architecture="unet1").train_size == 1000
    with pytest.raises(InputDataError, match=r"comparisons: have no virtual_effunet dice rows of architecture "
                                             r"'unet9' in the learnable sweep; found unet1, efficientunet7"):
        crossover(table, "segmentation", "virtual_effunet", "dice", axis="train_size", architecture="unet9")


@pytest.mark.parametrize(("task", "stainer", "metric", "kwargs", "error", "message"), [
    ("detection", "virtual_effunet", "dice", {}, ConfigError, r"task: found 'detection'; expected one of segmentation"),
    ("segmentation", "virtual_effunet", "auc", {}, ConfigError, r"metric: found 'auc' for segmentation; expected one "
                                                                r"of precision, recall, dice"),
    ("segmentation", "label_free", "dice", {}, ConfigError, r"stainer_modality: found 'label_free'; expected one of "
                                                            r"virtual_effunet, virtual_pix2pixhd, virtual_<external "
                                                            r"stainer>, fluorescence"),
    ("segmentation", "virtual_effunet", "dice", {"axis": "epochs"}, ConfigError,
     r"axis: found 'epochs'; expected one of capacity, train_size"),
    ("segmentation", "virtual_effunet", "dice", {"alpha": 0.0}, ConfigError, r"alpha: found 0.0; expected a level"),
    ("classification", "virtual_effunet", "auc", {}, InputDataError,
     r"comparisons: hold rows of task\(s\) \['segmentation'\]; expected only classification"),
    ("segmentation", "fluorescence", "dice", {}, InputDataError, r"comparisons: have no fluorescence minus label_free "
                                                                 r"dice rows along capacity"),
    ("segmentation", "virtual_effunet", "recall", {}, InputDataError, r"have no virtual_effunet minus label_free "
                                                                      r"recall rows"),
])
def test_refused_requests(task, stainer, metric, kwargs, error, message):
    with pytest.raises(error, match=message):
        crossover(comparison_rows([0.1, 0.0, 0.0, 0.0], [0.01, 1, 1, 1]), task, stainer, metric, **kwargs)


def test_a_table_without_the_combined_columns_is_refused():
    table = comparison_rows([0.1, 0.0, 0.0, 0.0], [0.01, 1, 1, 1]).drop(columns=["p_adjusted", "family"])
    with pytest.raises(InputDataError, match=r"comparisons: lack column\(s\) p_adjusted, family; expected the "
                                             r"combined table of paired_comparisons"):
        crossover(table, "segmentation", "virtual_effunet", "dice")


def test_study_verdict_sentences_details_and_family():
    capacity = comparison_rows([0.10, 0.08, 0.01, 0.0], [0.001, 0.01, 0.5, 0.9])
    learnable = comparison_rows([0.2, 0.0], [0.001, 0.9], sizes=[100, 1000])
    verdict = study_verdict("segmentation", {"comparisons": pd.concat([capacity, learnable])})
    assert verdict["metric"] == "dice" and verdict["family"] == FAMILY_WORDS
    assert len(verdict["sentences"]) == 3  # capacity sweep, largest capacity, learnable sweep (no units: no trend)
    assert verdict["sentences"][1] == (
        "At the largest capacity (efficientunet7, 20,000,000 parameters) virtual_effunet minus label-free Dice is "
        "+0.000, 95% CI -0.020 to +0.020, df 2.5, Holm-adjusted p = 0.9, 3 paired trainings: not significant at the "
        "5% level after Holm's correction.")
    details = verdict["details"]
    assert details["virtual_effunet.capacity"]["crossover"] == "unet3"
    assert details["virtual_effunet.train_size"]["crossover"] == 1000
    assert [s["status"] for s in details["virtual_effunet.capacity"]["steps"]] == [
        "better", "better", "undecided", "undecided"]
    assert details["virtual_effunet.largest_capacity"]["significant"] is False
    json.dumps(verdict, allow_nan=False)  # strict JSON
    assert study_verdict("segmentation", {})["sentences"] == [
        "No verdict: the segmentation units hold no label-free and virtual-stain pair to compare."]
    with pytest.raises(ConfigError, match=r"task: found 'detection'; expected one of segmentation, classification"):
        study_verdict("detection", {})


def test_study_verdict_from_units_with_the_trend(make_segmentation):
    ladder = [("unet1", 1_234, 0.60), ("unet2", 60_305, 0.68), ("unet3", 1_000_000, 0.75)]
    units = [make_segmentation(arch, modality, dice, capacity=cap, seed=10 * k + r + 100 * j, replicate=r)
             for k, (arch, cap, dice_lf) in enumerate(ladder) for r in range(3)
             for j, (modality, dice) in enumerate((("label_free", dice_lf), ("virtual_effunet", 0.75)))]
    verdict = study_verdict("segmentation", {"comparisons": paired_comparisons(units)}, units)
    assert len(verdict["sentences"]) == 3  # capacity sweep, largest capacity, trend
    assert verdict["sentences"][0].startswith("virtual_effunet images score a significantly higher Dice than "
                                              "label-free images at unet1 (1,234 parameters) and unet2 (60,305 "
                                              "parameters); from unet3 (1,000,000 parameters) on, no step shows")
    assert verdict["sentences"][2].startswith("Across the 3 capacities (3 replicates each), virtual_effunet minus "
                                              "label-free dice changes by -0.051 per tenfold more parameters")
    trend = verdict["details"]["virtual_effunet.capacity_trend"]
    assert trend["direction"] == "shrinks" and trend["replicates"] == 3


def test_steps_with_trainings_left_out_say_so_and_a_step_with_none_left_is_undecided():
    table = comparison_rows([0.2, np.nan, 0.01], [0.001, np.nan, 0.6], sizes=[100, 200, 400])
    table["degenerate_excluded"] = [0, 3, 1]  # rows are reversed: 400, 200, 100
    result = crossover(table, "segmentation", "virtual_effunet", "dice", axis="train_size")
    assert [s.status for s in result.steps] == ["better", "undecided", "undecided"]
    assert [s.excluded for s in result.steps] == [1, 3, 0]
    sentence = crossover_sentence(result)
    assert sentence.endswith("Paired trainings left out because one of the two is still degenerate after its last "
                             "attempt (see the training endings): 1 of 4 at 100 training images and 3 of 6 at 200 "
                             "training images.")
    nothing = comparison_rows([np.nan, np.nan], [np.nan, np.nan], sizes=[100, 200])
    nothing["degenerate_excluded"] = 3
    sentence = crossover_sentence(crossover(nothing, "segmentation", "virtual_effunet", "dice", axis="train_size"))
    assert sentence.startswith("With efficientunet7 (66,000,000 parameters), the data cannot decide whether "
                               "virtual_effunet images score a different Dice than label-free images: no pair of "
                               "trainings is left to compare.")


def test_study_verdict_leaves_degenerate_trainings_out_of_the_trend_and_the_largest_capacity(make_segmentation):
    import dataclasses

    ladder = [("unet1", 1_234, 0.60), ("unet2", 60_305, 0.68), ("unet3", 1_000_000, 0.75)]
    units = [make_segmentation(arch, modality, dice, capacity=cap, seed=10 * k + r + 100 * j, replicate=r)
             for k, (arch, cap, dice_lf) in enumerate(ladder) for r in range(3)
             for j, (modality, dice) in enumerate((("label_free", dice_lf), ("virtual_effunet", 0.75)))]
    flagged = [dataclasses.replace(u, degenerate="constant output") if u.architecture == "unet3" else u
               for u in units]
    verdict = study_verdict("segmentation", {"comparisons": paired_comparisons(flagged)}, flagged)
    assert verdict["sentences"][1] == ("At the largest capacity (unet3, 1,000,000 parameters) no pair of trainings "
                                       "is left to compare: all 3 are left out, a training still degenerate after "
                                       "its last attempt in each.")
    assert verdict["details"]["virtual_effunet.largest_capacity"]["excluded"] == 3
    assert "virtual_effunet.capacity_trend" not in verdict["details"]  # two capacities left: no trend
    assert json.loads(json.dumps(verdict, allow_nan=False)) == verdict
