"""stainworth: does virtual staining help my downstream task, given the task network I can afford?"""

__version__ = "0.1.0"
