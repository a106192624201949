"""Task-performance statistics: ROC analysis (empirical AUC, DeLong, binormal ML fit), mask scores, paired bootstrap."""

from stainworth.metrics.binormal import BinormalFit, fit_binormal, labroc_categories
from stainworth.metrics.bootstrap import PairedBootstrapResult, paired_bootstrap
from stainworth.metrics.roc import (
    AucEstimate,
    PairedAucComparison,
    check_roc_inputs,
    delong_test,
    empirical_auc,
    roc_curve,
)
from stainworth.metrics.segmentation import SegmentationSummary, mask_scores, summarise_scores

__all__ = [
    "AucEstimate",
    "BinormalFit",
    "PairedAucComparison",
    "PairedBootstrapResult",
    "SegmentationSummary",
    "check_roc_inputs",
    "delong_test",
    "empirical_auc",
    "fit_binormal",
    "labroc_categories",
    "mask_scores",
    "paired_bootstrap",
    "roc_curve",
    "summarise_scores",
]
