"""Bench rows: the orchestration share read back from a run log, training FLOP/s against the matmul peak."""

import math
import os

from stainworth.bench.orchestration import bench_orchestration, bench_training_efficiency, newest_run


def fake_run(root, name, profile, lines, age):
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "profile.yaml").write_text(f"name: {profile}\ndescription: x\n")
    (folder / "run.log").write_text("\n".join(lines) + "\n")
    os.utime(folder / "run.log", (age, age))
    return folder


def test_the_share_comes_from_the_newest_finished_run_of_the_profile(tmp_path):
    timing = ["23:59:00.000 - INFO - Running pipeline: 'stainworth-cls-capacity'",
              "    stainworth-timing: tasks work 90.00 process 95.00",
              "    stainworth-timing: prepare work 8.00 process 10.00",
              "00:04:00.000 - INFO - Pipeline 'stainworth-cls-capacity' finished with status SUCCESS"]
    fake_run(tmp_path, "cls_capacity-1", "mini", timing, 1000)
    fake_run(tmp_path, "cls_capacity-2", "smoke", timing, 3000)  # another profile
    fake_run(tmp_path, "cls_capacity-3", "mini", timing[:2], 2000)  # did not finish
    assert newest_run(tmp_path, "cls_capacity", "mini").name == "cls_capacity-1"
    row = bench_orchestration(tmp_path, "cls_capacity", "mini")[0]
    assert math.isclose(row.value, 100 * 7 / 105) and "2 tasks: 7s of 105s" in row.note and "300s" in row.note


def test_without_a_run_the_row_says_what_to_do(tmp_path):
    row = bench_orchestration(tmp_path)[0]
    assert math.isnan(row.value) and "run make submit first" in row.note


def test_every_ladder_network_of_the_profile_gets_a_rate_against_the_peak():
    rows = bench_training_efficiency("smoke", repeats=1)
    assert rows[0].measure.startswith("matmul peak") and rows[0].value > 0
    names = [row.measure.split()[1] for row in rows[1:]]
    assert names == ["unet1", "unet2", "cnn1", "cnn3"]
    assert all(row.value > 0 and row.reference == rows[0].value for row in rows[1:])
