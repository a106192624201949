"""The study report: the study's figures, tables with their uncertainties, deviations, HTML page, Markdown summary."""

from stainworth.report.figures import (
    classification_capacity_figure,
    classification_learnable_figure,
    embedding_distance_figure,
    png_bytes,
    save_png,
    segmentation_capacity_figure,
    segmentation_learnable_figure,
)
from stainworth.report.inputs import Evaluation, StainQuality, read_evaluation, read_stain_quality

__all__ = [
    "Evaluation",
    "StainQuality",
    "classification_capacity_figure",
    "classification_learnable_figure",
    "embedding_distance_figure",
    "png_bytes",
    "read_evaluation",
    "read_stain_quality",
    "save_png",
    "segmentation_capacity_figure",
    "segmentation_learnable_figure",
]
