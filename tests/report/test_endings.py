"""How the trainings ended and the seeds they started from, on small hand-made units tables."""

import numpy as np
import pandas as pd
import pytest

from stainworth.errors import InputDataError
from stainworth.report.endings import (
    ending_sentence,
    ending_shares,
    profile_seed,
    seed_sentence,
    seed_table,
    shares_display,
)


def units(endings, architectures, degenerate=None):
    """One training per ending, of the architecture given beside it (capacity: cnn1 < cnn3)."""
    return pd.DataFrame({"run": [f"u{k}" for k in range(len(endings))], "architecture": architectures,
                         "capacity": [417 if name == "cnn1" else 24321 for name in architectures],
                         "ended": endings, "degenerate": degenerate or [""] * len(endings)})


def test_shares_overall_and_per_architecture():
    table = units(["early_stop", "epoch_cap", "epoch_cap", "degenerate_retrained", "early_stop"],
                  ["cnn3", "cnn1", "cnn3", "cnn1", "cnn1"], ["", "", "constant output", "", ""])
    shares = ending_shares(table)
    assert list(shares["architecture"]) == ["all", "cnn1", "cnn3"]  # all first, then by capacity
    assert list(shares["trainings"]) == [5, 3, 2]
    assert list(shares["early_stop"]) == [2, 1, 1] and list(shares["epoch_cap"]) == [2, 1, 1]
    assert list(shares["degenerate_retrained"]) == [1, 1, 0] and list(shares["still_degenerate"]) == [1, 0, 1]
    np.testing.assert_allclose(shares["early_stop_share"], [0.4, 1 / 3, 0.5])
    np.testing.assert_allclose(shares["degenerate_retrained_share"], [0.2, 1 / 3, 0.0])
    np.testing.assert_allclose(shares[[f"{e}_share" for e in ("early_stop", "epoch_cap", "degenerate_retrained")]]
                               .sum(axis=1), 1.0)
    shown = shares_display(shares)
    assert list(shown.iloc[0]) == ["all trainings", "5", "2 of 5 (40%)", "2 of 5 (40%)", "1 of 5 (20%)",
                                   "1 of 5 (20%)"]
    assert shown.iloc[1]["retrained after a degenerate attempt"] == "1 of 3 (33%)"
    assert ending_sentence("classification", shares) == (
        "classification: of the 5 trainings, 2 of 5 (40%) stopped early, 2 of 5 (40%) ran to the epoch cap and "
        "1 of 5 (20%) retrained after a degenerate attempt; 1 is still degenerate after the last attempt and kept, "
        "flagged in the units table.")


def test_empty_reasons_read_back_as_nan_are_not_degenerate():
    table = units(["early_stop", "early_stop"], ["cnn1", "cnn1"], [np.nan, " "])
    shares = ending_shares(table)
    assert shares.iloc[0]["still_degenerate"] == 0 and shares.iloc[0]["early_stop_share"] == 1.0
    assert ending_sentence("segmentation", shares).endswith("0 of 2 (0%) retrained after a degenerate attempt.")


def test_an_unknown_ending_is_refused_with_its_value():
    with pytest.raises(InputDataError, match=r"units.csv: ended 'nan' in 1 row\(s\); expected one of early_stop, "
                                             r"epoch_cap, degenerate_retrained"):
        ending_shares(units(["early_stop", np.nan], ["cnn1", "cnn1"]))


def test_the_profile_seed_and_where_it_comes_from():
    settings = {"tasks": {"classification": {"training": {"seed": 5}}, "segmentation": {"training": {}}}}
    assert profile_seed(settings, "classification") == 5
    assert profile_seed(settings, "segmentation") is None and profile_seed({}, "classification") is None
    assert profile_seed({"tasks": {"classification": {"training": {"seed": "x"}}}}, "classification") is None
    assert seed_sentence("classification", 5, 5).startswith("classification: profile seed "
                                                            "tasks.classification.training.seed = 5. Each training")
    assert "= 5 in the report's settings, but the evaluated units were trained with 0" in seed_sentence(
        "classification", 5, 0)
    assert "= 0 (as the evaluation recorded it; the report's settings hold none)" in seed_sentence(
        "classification", None, 0)


def test_seed_table_lists_each_seed_once_per_sweep_subset_and_replicate():
    table = pd.DataFrame({"run": list("abcdefg"), "train_size": [None, None, None, None, 6, 6, 6],
                          "subset": [0, 0, 0, 0, 0, 1, 1], "replicate": [0, 0, 1, 1, 0, 0, 0],
                          "init_seed": [11, 11, 12, 99, 11, 21, 21],
                          "ended": ["early_stop", "early_stop", "early_stop", "degenerate_retrained", "epoch_cap",
                                    "early_stop", "early_stop"]}).astype({"train_size": "Int64"})
    shown = seed_table(table)
    assert shown.values.tolist() == [
        ["capacity", "0", "0", "11", "2", "0"],
        ["capacity", "0", "1", "12", "1", "0"],
        ["capacity", "0", "1", "99", "1", "1"],  # a retraining after a degenerate attempt: a fresh seed
        ["n = 6", "0", "0", "11", "1", "0"],
        ["n = 6", "1", "0", "21", "2", "0"],
    ]
