"""How many CPU threads torch may use in a task: the CPUs the task really has, shared with its siblings.

torch sizes its thread pool by the machine's cores. In a Kubernetes pod that is the node's cores,
not the pod's CPU limit, and in a local run kfp.local executes two loop iterations at once, so
two processes each take every core. Either way OpenMP threads outnumber the CPUs and spin on
each other: a measured ResNet18 epoch took 16 times longer with two such processes on two cores.
:func:`configure_torch_threads` sets the pool to the CPUs available (the cgroup's CPU quota, else
the process's CPU affinity), divided by the number of tasks running side by side when the task
is a loop iteration and the local runner says how many run at once.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

PARALLEL_TASKS_ENV = "STAINWORTH_PARALLEL_TASKS"
"""Set by the local runner: how many loop iterations run at once."""
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def available_cpus(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """CPUs this process may use: the cgroup v2 quota (rounded down, at least 1), else its affinity."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = cpu_max.read_text().split()[:2]
    except (OSError, ValueError):
        return cpus
    if quota == "max":
        return cpus
    return max(1, min(cpus, math.floor(int(quota) / int(period))))


def task_threads(*, parallel: bool, cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """Threads for one task; ``parallel``: a loop iteration that may share the CPUs with its siblings."""
    cpus = available_cpus(cpu_max)
    siblings = int(os.environ.get(PARALLEL_TASKS_ENV, "1") or 1) if parallel else 1
    return max(1, cpus // max(1, siblings))


def configure_torch_threads(*, parallel: bool) -> int:
    """Set torch's intra-op thread pool to :func:`task_threads`; return the number."""
    import torch

    threads = task_threads(parallel=parallel)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads
