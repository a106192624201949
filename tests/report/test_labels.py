"""Names, colours and number formats shared by the figures and tables."""

import math

import numpy as np
import pandas as pd
import pytest

from stainworth.report import labels


@pytest.mark.parametrize("value, shown", [
    (0.8123, "0.812"), (15.8334, "15.833"), (263574.3, "2.64e+05"), (0.00276473, "0.00276"), (0.02, "0.0200"),
    (1e-05, "1.00e-05"), (0, "0"),
    (-0.25771, "-0.258"), (float("nan"), "–"), (np.float64("nan"), "–"), (None, "–"), (pd.NA, "–"),
])
def test_number(value, shown):
    assert labels.number(value) == shown


def test_counts():
    assert labels.count(13073) == "13,073" and labels.count(np.float64(6.0)) == "6" and labels.count(None) == "–"
    assert [labels.short_count(n) for n in (417, 1233, 24321, 11170753, 2.5e9)] == [
        "417", "1.23k", "24.3k", "11.2M", "2.5G"]


def test_uncertainty_formats():
    assert labels.with_interval(0.8, 0.75, 0.87) == "0.800 [0.750, 0.870]"
    assert labels.with_interval(0.8, math.nan, 0.87) == "0.800"
    assert labels.with_spread(0.8, 0.02) == "0.800 ± 0.0200"
    assert labels.with_spread(0.8, math.nan) == "0.800"
    assert labels.interval(0.75, 0.87) == "[0.750, 0.870]" and labels.interval(math.nan, 0.87) == "–"


def test_degrees_of_freedom_stay_readable():
    assert [labels.degrees(df) for df in (1.49, math.inf, 3.6e61, math.nan, 1000.0)] == [
        "1.5", "∞", "> 1,000", "–", "1000.0"]


def test_modality_order_and_names():
    assert labels.modality_order(["fluorescence", "extra", "label_free", "virtual_pix2pixhd", "label_free"]) == [
        "label_free", "virtual_pix2pixhd", "fluorescence", "extra"]
    assert labels.modality_name("virtual_effunet") == "virtual (EfficientUNet)"
    assert labels.modality_name("other") == "other"
    assert len(set(labels.MODALITY_COLOURS.values())) == 4
