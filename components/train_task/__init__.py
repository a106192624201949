from stainworth.components.train_task.component import train_task

__all__ = ["train_task"]
