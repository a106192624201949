"""Evaluation of trained task networks: capacity and learnable-capacity tables, paired comparisons, trend, verdict."""

from stainworth.evaluation.comparisons import paired_comparisons, replicate_comparisons
from stainworth.evaluation.tables import (
    CLASSIFICATION_METRICS,
    SEGMENTATION_METRICS,
    TASK_METRICS,
    capacity_table,
    learnable_table,
    mean_interval,
    unit_statistics,
    unit_summary,
)
from stainworth.evaluation.trend import CapacityTrend, capacity_trend, trend_sentence
from stainworth.evaluation.units import SCORE_COLUMNS, UnitScores, check_units
from stainworth.evaluation.verdict import Crossover, CrossoverStep, crossover, crossover_sentence, study_verdict

__all__ = [
    "CLASSIFICATION_METRICS",
    "CapacityTrend",
    "Crossover",
    "CrossoverStep",
    "SCORE_COLUMNS",
    "SEGMENTATION_METRICS",
    "TASK_METRICS",
    "UnitScores",
    "capacity_table",
    "capacity_trend",
    "check_units",
    "crossover",
    "crossover_sentence",
    "learnable_table",
    "mean_interval",
    "paired_comparisons",
    "replicate_comparisons",
    "study_verdict",
    "trend_sentence",
    "unit_statistics",
    "unit_summary",
]
