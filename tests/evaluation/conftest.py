"""Synthetic units: classification scores from binormal distributions, segmentation scores per image."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from scipy.stats import norm

from stainworth.evaluation import UnitScores


def binormal_shift(auc):
    """Mean shift d of N(d, 1) positives over N(0, 1) negatives giving this AUC: Phi(d / sqrt 2) = auc."""
    return float(np.sqrt(2.0) * norm.ppf(auc))


def _run(prefix, architecture, modality, train_size, subset, replicate):
    name = f"{prefix}-{architecture}-{modality}-{train_size or 'all'}-s{subset}"
    return name if replicate == 0 else f"{name}-r{replicate}"


def classification_unit(architecture, modality, auc, *, capacity=1000, train_size=None, subset=0, n=150, seed=0,
                        replicate=0):
    """n controls and n treated; latent scores N(0, 1) and N(d, 1) (true AUC ``auc``), reported as probabilities."""
    rng = np.random.default_rng(seed)
    labels = np.r_[np.zeros(n, int), np.ones(n, int)]
    latent = rng.normal(0.0, 1.0, 2 * n) + labels * binormal_shift(auc)
    scores = pd.DataFrame({"item": np.arange(2 * n), "label": labels, "score": expit(latent)})
    return UnitScores("classification", architecture, modality, train_size, subset, capacity, scores,
                      _run("cls", architecture, modality, train_size, subset, replicate), replicate)


def segmentation_unit(architecture, modality, dice, *, capacity=1000, train_size=None, subset=0, n=120, seed=0,
                      noise=0.03, replicate=0):
    """Per-image scores around a shared image difficulty (the same for every modality) plus ``dice`` offsets."""
    difficulty = np.random.default_rng(1234).uniform(-0.1, 0.1, n)
    rng = np.random.default_rng(seed)
    values = np.clip(dice + difficulty + rng.normal(0.0, noise, n), 0.0, 1.0)
    recall = np.clip(values + 0.02, 0.0, 1.0)
    recall[::10] = np.nan  # images without nuclei
    scores = pd.DataFrame({"item": np.arange(n), "precision": np.clip(values - 0.02, 0, 1), "recall": recall,
                           "dice": values})
    return UnitScores("segmentation", architecture, modality, train_size, subset, capacity, scores,
                      _run("seg", architecture, modality, train_size, subset, replicate), replicate)


@pytest.fixture(scope="session")
def make_classification():
    return classification_unit


@pytest.fixture(scope="session")
def make_segmentation():
    return segmentation_unit
