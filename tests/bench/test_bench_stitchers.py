"""stainworth's stitcher and ASHLAR on one small jittered phantom grid: both find the true positions."""

import math

import numpy as np
import pytest

from stainworth.bench.stitchers import position_errors, run_stitchers_in_child, stitcher_rows
from stainworth.contracts.phantom import PhantomConfig
from stainworth.phantom import generate_acquisition
from stainworth.phantom.folder import write_phantom_acquisition


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    overlap = 0.15
    config = PhantomConfig(acquisition={"rows": 2, "cols": 3, "tile_size_px": 512, "overlap": overlap,
                                        "stage_jitter_px": 4.0})
    folder = tmp_path_factory.mktemp("stitchers") / "acquisition"
    write_phantom_acquisition(generate_acquisition(config, condition="control", seed=3), folder,
                              acquisition_id="stitchers", config=config, overlap=overlap)
    return run_stitchers_in_child(folder)


def test_error_removes_the_free_offset():
    true = np.array([[0.0, 0.0], [0.0, 100.0], [100.0, 0.0]])
    assert np.allclose(position_errors(true + [7.0, -3.0], true), 0.0)
    assert np.allclose(position_errors(true + [[3.0, 0.0], [0.0, 0.0], [0.0, 0.0]], true), [2.0, 1.0, 1.0])


def test_both_stitchers_find_the_true_positions(case):
    stage = position_errors(case.nominal, case.true)
    assert stage.max() > 2.0  # the stage positions alone are off: a stitcher returning them fails below
    assert [run.name for run in case.runs] == ["stainworth", "ASHLAR"]
    for run in case.runs:
        error = position_errors(run.positions, case.true)
        assert run.positions.shape == case.true.shape
        assert np.all(np.isfinite(error)) and error.max() < 2.0, (run.name, error)
        assert error.max() < stage.max()
        assert run.seconds > 0


def test_rows_report_errors_times_and_ratio(case):
    rows = stitcher_rows(case, "test")
    assert len(rows) == 7
    assert all(math.isfinite(row.value) for row in rows)
    errors = [row for row in rows if "error" in row.measure]
    assert len(errors) == 4 and all(row.unit == "px" and row.value < 2.0 for row in errors)
    ratio = rows[-1]
    assert ratio.measure.startswith("ASHLAR time / stainworth time")
    assert ratio.value == case.runs[1].seconds and ratio.reference == case.runs[0].seconds
