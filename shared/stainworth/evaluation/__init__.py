"""Evaluation of trained task networks: capacity and learnable-capacity tables, paired comparisons, the verdict."""

from stainworth.evaluation.comparisons import paired_comparisons
from stainworth.evaluation.tables import (
    CLASSIFICATION_METRICS,
    SEGMENTATION_METRICS,
    TASK_METRICS,
    capacity_table,
    learnable_table,
    mean_interval,
    unit_summary,
)
from stainworth.evaluation.units import SCORE_COLUMNS, UnitScores, check_units
from stainworth.evaluation.verdict import Crossover, CrossoverStep, crossover, crossover_sentence

__all__ = [
    "CLASSIFICATION_METRICS",
    "Crossover",
    "CrossoverStep",
    "SCORE_COLUMNS",
    "SEGMENTATION_METRICS",
    "TASK_METRICS",
    "UnitScores",
    "capacity_table",
    "check_units",
    "crossover",
    "crossover_sentence",
    "learnable_table",
    "mean_interval",
    "paired_comparisons",
    "unit_summary",
]
