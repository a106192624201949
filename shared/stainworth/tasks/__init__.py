"""Task networks by name: the study's segmentation and classification capacity ladders."""

from stainworth.tasks.registry import TASK_NETS, TaskNetSpec, build_task_net, capacity, ladder

__all__ = ["TASK_NETS", "TaskNetSpec", "build_task_net", "capacity", "ladder"]
