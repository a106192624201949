"""Degenerate trainings told from validation data: trivial loss, constant outputs."""

import math

import numpy as np
import pytest

from stainworth.tasks.degenerate import MIN_OUTPUT_SD, degenerate_reason, trivial_loss


def test_the_trivial_loss_is_the_entropy_of_the_prevalence():
    assert trivial_loss(np.array([0, 1] * 5)) == pytest.approx(math.log(2))
    masks = np.zeros((2, 4, 4), dtype=np.uint8)
    masks[:, :1] = 1  # a quarter of the pixels
    assert trivial_loss(masks) == pytest.approx(-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)))
    assert trivial_loss(np.zeros(5)) == 0.0 and trivial_loss(np.ones(5)) == 0.0


def test_a_network_is_degenerate_when_its_output_is_constant_or_its_loss_is_trivial():
    trivial = math.log(2)
    assert degenerate_reason({"val_loss": 0.5, "val_output_sd": 0.2}, trivial) == ""
    assert degenerate_reason({"val_loss": 0.5, "val_output_sd": MIN_OUTPUT_SD / 2}, trivial).startswith(
        "constant output")
    assert "not below the trivial 0.6931" in degenerate_reason({"val_loss": 0.70, "val_output_sd": 0.2}, trivial)
    assert degenerate_reason({"val_loss": trivial, "val_output_sd": 0.2}, trivial) != ""
    assert degenerate_reason({"val_loss": trivial - 1e-4, "val_output_sd": 0.2}, trivial) == ""  # weak but real
    assert degenerate_reason({"val_loss": 0.01, "val_output_sd": 0.2}, 0.0) == ""  # one class: only the spread counts
