from stainworth.components.stain_report.component import stain_report

__all__ = ["stain_report"]
