"""Task-performance statistics: ROC analysis, mask scores, paired bootstrap, combination of retrained networks.

ROC analysis: empirical AUC, DeLong, binormal ML fit. Retrained networks tested on one shared test
set are combined as Obuchowski-Rockette-Hillis; Holm's correction for families of tests.
"""

from stainworth.metrics.binormal import BinormalFit, fit_binormal, labroc_categories
from stainworth.metrics.bootstrap import PairedBootstrapResult, paired_bootstrap
from stainworth.metrics.replicates import (
    MeanCovariance,
    ReplicateCombination,
    combine_replicates,
    holm,
    mean_covariance,
)
from stainworth.metrics.roc import (
    AucCovariance,
    AucEstimate,
    PairedAucComparison,
    check_roc_inputs,
    delong_covariance,
    delong_test,
    empirical_auc,
    roc_curve,
)
from stainworth.metrics.segmentation import SegmentationSummary, mask_scores, summarise_scores

__all__ = [
    "AucCovariance",
    "AucEstimate",
    "BinormalFit",
    "MeanCovariance",
    "PairedAucComparison",
    "PairedBootstrapResult",
    "ReplicateCombination",
    "SegmentationSummary",
    "check_roc_inputs",
    "combine_replicates",
    "delong_covariance",
    "delong_test",
    "empirical_auc",
    "fit_binormal",
    "holm",
    "labroc_categories",
    "mask_scores",
    "mean_covariance",
    "paired_bootstrap",
    "roc_curve",
    "summarise_scores",
]
