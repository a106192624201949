"""stainworth: does virtual staining help a downstream task, given the task network one can afford."""

__version__ = "0.1.0"
