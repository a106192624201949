"""make gpu-check: the networks it times, its arithmetic and table, refusal without CUDA; staining on a CPU."""

import json

import pytest
import torch

from stainworth.cli import main
from stainworth.errors import ConfigError
from stainworth.plan.gpu_check import (
    CheckRow,
    check_specs,
    format_check,
    gpu_check,
    network_row,
    staining_throughput,
    write_check,
)
from stainworth.plan.probe import ProbeResult, ProbeSpec
from stainworth.profiles import load_profile


def test_without_cuda_it_refuses_with_one_line_and_writes_nothing(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.fail("this test checks the refusal on a machine without CUDA")
    assert main(["gpu-check", "--out", str(tmp_path / "check.json")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "torch sees no CUDA device here" in error
    assert not (tmp_path / "check.json").exists()


def test_it_times_every_network_of_the_paper_pipelines_in_bf16():
    profile = load_profile("paper")
    specs = check_specs(profile)
    tasks = {spec.name for spec in specs if spec.kind == "task"}
    assert tasks == set(profile.tasks.segmentation.architectures) | set(profile.tasks.classification.architectures)
    stainers = {(spec.name, spec.size) for spec in specs if spec.kind == "stainer"}
    assert stainers == {(name, size) for name in ("efficientunet", "pix2pixhd") for size in (256, 192)}
    assert all(spec.bf16 for spec in specs) and len(specs) == len(set(specs))


def test_achieved_rate_and_share():
    result = ProbeResult(parameters=10, train_flops_per_item=3e12, forward_flops_per_item=1e12, peak_bytes=2 * 1024**3,
                         device="GPU", seconds_per_step=0.5)
    row = network_row(ProbeSpec("task", "resnet18", 192, 16, True), result, peak_flops=400e12)
    assert row.value == pytest.approx(96.0) and row.share_of_peak == pytest.approx(0.24)
    assert row.peak_memory_gib == pytest.approx(2.0) and row.unit == "TFLOP/s"


def test_a_check_with_the_measurements_replaced_writes_its_table(tmp_path):
    profile = load_profile("smoke")
    seen = []

    def measure(spec, steps):
        seen.append((spec, steps))
        return ProbeResult(1, 2e9, 1e9, 1024**3, "fake", 0.01)

    result = gpu_check(profile, steps=3, measure=measure, peak=lambda: 1e12, device=lambda: "fake GPU",
                       staining=lambda p: CheckRow("stain", 5.0, "Mpx/s"), progress=lambda line: None)
    assert [steps for _, steps in seen] == [3] * len(check_specs(profile))
    assert result["device"] == "fake GPU" and len(result["rows"]) == len(seen) + 2
    text = format_check(result)
    assert text.startswith("gpu-check on fake GPU")
    assert text.count("\n| ") == len(result["rows"]) + 2  # header, rule, one line per row
    path = write_check(result, tmp_path / "out" / "check.json")
    assert json.loads(path.read_text())["rows"][0]["what"].startswith("matmul peak (bf16")
    with pytest.raises(ConfigError, match="steps: found 0"):
        gpu_check(profile, steps=0, measure=measure, peak=lambda: 1.0, device=lambda: "fake GPU")


def test_tiled_staining_runs_on_a_cpu_and_reports_megapixels_per_second():
    row = staining_throughput(load_profile("smoke"), side=200, device="cpu")
    assert row.unit == "Mpx/s" and row.value > 0 and row.seconds_per_step > 0
