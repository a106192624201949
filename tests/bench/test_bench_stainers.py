import math

from stainworth.bench.stainers import bench_bf16, bench_training, synthetic_pairs


def test_training_rows_compare_the_loop_with_a_bare_loop_on_the_same_items():
    rows = bench_training("pix2pixhd", size=32, batch=4, batches=2, repeats=1)
    bare, ours = rows
    assert bare.unit == ours.unit == "items/s" and ours.reference == bare.value
    assert all(math.isfinite(row.value) and row.value > 0 for row in rows)


def test_bf16_rows_report_ssim_with_and_without_autocast():
    rows = bench_bf16(size=64, steps=2, batch=4)
    assert [row.measure for row in rows][:2] == ["stainer SSIM, float32 inference",
                                                 "stainer SSIM, bf16 autocast inference"]
    assert all(-1.0 <= row.value <= 1.0 for row in rows[:2]) and rows[2].value > 0


def test_synthetic_targets_are_a_fixed_function_of_the_inputs():
    x1, y1 = synthetic_pairs(2, 16, seed=0)
    x2, y2 = synthetic_pairs(2, 16, seed=0)
    assert (x1 == x2).all() and (y1 == y2).all() and y1.min() >= 0


def test_training_bench_uses_the_profile_settings_in_both_loops():
    from stainworth.bench.stainers import profile_stainer_config
    from stainworth.profiles import load_profile

    mini = load_profile("mini").stain.training
    config = profile_stainer_config("pix2pixhd", batch=4)
    assert config.batch_size == 4 and config.bf16 == mini.bf16 and config.pix2pixhd == mini.pix2pixhd
    bare, _ = bench_training("efficientunet", size=32, batch=4, batches=1, repeats=1)
    assert "MSE" in bare.note and f"bf16 {'on' if mini.bf16 else 'off'}" in bare.note
