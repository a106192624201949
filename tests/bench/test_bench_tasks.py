"""The task-network training benchmark runs at tiny sizes and gives well-formed rows."""

import math

import numpy as np
import pytest

from stainworth.bench import format_table
from stainworth.bench.tasks import (
    SETTINGS,
    synthetic_classification,
    synthetic_segmentation,
    task_bench_settings,
)
from stainworth.bench.tasks import bench_task_training as bench
from stainworth.tasks import ladder


@pytest.mark.parametrize(("name", "size", "batch"), [("cnn1", 16, 4), ("unet1", 16, 2)])
def test_task_training_rows_compare_the_loop_with_a_bare_loop(name, size, batch):
    rows = bench(name, size=size, batch=batch, batches=2, repeats=1)
    bare, ours, share = rows
    assert [row.measure for row in rows] == [f"train {name}: bare PyTorch loop", f"train {name}: stainworth loop",
                                             f"train {name}: data wait share"]
    assert bare.unit == ours.unit == "items/s" and bare.reference == bare.value and ours.reference == bare.value
    assert all(math.isfinite(row.value) and row.value > 0 for row in (bare, ours))
    assert share.unit == "%" and share.reference is None and 0.0 <= share.value / 100 <= 1.0
    assert f"batch {batch} of {size}x{size}, {2 * batch} items" in bare.note
    assert f"| train {name}: data wait share |" in format_table(rows)


def test_settings_cover_both_ladders_in_order():
    names = [*ladder("segmentation"), *ladder("classification")]
    assert list(task_bench_settings()) == list(task_bench_settings(quick=True)) == names == list(SETTINGS)
    for full, quick in zip(task_bench_settings().values(), task_bench_settings(quick=True).values(), strict=True):
        assert set(full) == {"size", "batch", "batches"} and quick["size"] <= full["size"]


def test_synthetic_data_is_deterministic_with_both_classes_and_non_empty_masks():
    images, masks = synthetic_segmentation(3, 16, seed=0)
    assert np.array_equal(images, synthetic_segmentation(3, 16, seed=0)[0]) and 0 < masks.mean() < 1
    images, masks, labels = synthetic_classification(4, 16, seed=0)
    assert labels.tolist() == [0, 1, 0, 1] and images.dtype == np.float32 and masks.any()
    assert images[1][masks[1] == 1].mean() > images[0][masks[0] == 1].mean()
