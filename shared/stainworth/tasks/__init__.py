"""Task networks by name: the study's segmentation and classification capacity ladders, and networks of your own."""

from stainworth.tasks.registry import (
    TASK_NETS,
    TaskNetSpec,
    build_task_net,
    capacity,
    check_task_networks,
    ladder,
    task_image_px,
)

__all__ = ["TASK_NETS", "TaskNetSpec", "build_task_net", "capacity", "check_task_networks", "ladder",
           "task_image_px"]
