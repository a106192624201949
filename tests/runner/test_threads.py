"""Thread pools sized to the CPUs a task really has, shared between loop iterations running at once."""

import os

import pytest
import torch

from stainworth.runner.threads import PARALLEL_TASKS_ENV, available_cpus, configure_torch_threads, task_threads

AFFINITY = len(os.sched_getaffinity(0))


@pytest.mark.parametrize(("content", "expected"), [
    ("max 100000\n", AFFINITY),
    (f"{100000 * (AFFINITY + 8)} 100000\n", AFFINITY),  # a quota above the CPUs present
    ("150000 100000\n", min(AFFINITY, 1)),  # 1.5 CPUs: rounded down
    ("50000 100000\n", 1),  # half a CPU: still one thread
    ("garbage", AFFINITY),
])
def test_available_cpus_follow_the_cgroup_quota(tmp_path, content, expected):
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text(content)
    assert available_cpus(cpu_max) == expected


def test_without_a_cgroup_file_the_affinity_counts(tmp_path):
    assert available_cpus(tmp_path / "absent") == AFFINITY


def test_loop_iterations_share_the_cpus_when_the_runner_says_so(tmp_path, monkeypatch):
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("400000 100000\n")
    cpus = min(AFFINITY, 4)
    monkeypatch.setenv(PARALLEL_TASKS_ENV, "2")
    assert task_threads(parallel=True, cpu_max=cpu_max) == max(1, cpus // 2)
    assert task_threads(parallel=False, cpu_max=cpu_max) == cpus
    monkeypatch.delenv(PARALLEL_TASKS_ENV)
    assert task_threads(parallel=True, cpu_max=cpu_max) == cpus


def test_configure_sets_the_torch_pool(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setenv(PARALLEL_TASKS_ENV, str(AFFINITY))
    try:
        assert configure_torch_threads(parallel=True) == 1 == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
