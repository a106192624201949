from stainworth.components.report.component import report

__all__ = ["report"]
