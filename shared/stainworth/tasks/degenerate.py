"""Telling a training that learned nothing, from its validation data only.

A task network can end training without having learned anything: its output is the same for
every input (a collapsed classifier, a segmenter that predicts background everywhere), or its best
validation loss is no lower than that of the best constant prediction. Reporting such a training
as a result would put an AUC of 0.5 or a Dice of 0 into the comparison of modalities, where it
reads as "this modality carries no signal". Both checks use the validation split only, so the test
split stays untouched by the decision to retrain.

* **Trivial loss.** The binary cross-entropy of the best constant prediction, the validation
  prevalence ``p`` of the positive class (of nucleus pixels for segmentation):
  ``H(p) = -p ln p - (1 - p) ln(1 - p)`` (ln 2 = 0.693 for balanced classes). A network whose best
  validation loss is not below ``H(p)`` is degenerate. No margin: a modality that carries little
  class information lowers the loss only a little (an AUC of 0.6 is worth about 0.02 nats), and
  a margin would call its honest trainings degenerate.
* **Constant output.** The standard deviation of the predicted probabilities over the validation
  items (pixels) at the best epoch, ``val_output_sd``, below :data:`MIN_OUTPUT_SD`.

The stage retrains a degenerate replicate with a fresh seed, at most ``max_attempts`` times in all,
and records how many attempts it took (:mod:`stainworth.stages.task`).
"""

from __future__ import annotations

import math

import numpy as np

MIN_OUTPUT_SD = 1e-3
"""Validation outputs whose probabilities vary less than this are constant."""


def trivial_loss(targets: np.ndarray) -> float:
    """Binary cross-entropy of the best constant prediction of ``targets`` (0/1 values).

    Parameters
    ----------
    targets : numpy.ndarray
        Validation labels (n,) or masks (n, H, W), values 0 and 1.

    Returns
    -------
    float
        ``H(p)`` in nats for the prevalence ``p``; 0 when only one class occurs.

    Examples
    --------
    >>> round(trivial_loss(np.array([0, 1, 0, 1])), 4)
    0.6931
    """
    p = float(np.mean(np.asarray(targets) != 0))
    if p <= 0.0 or p >= 1.0:
        return 0.0
    return -(p * math.log(p) + (1.0 - p) * math.log(1.0 - p))


def degenerate_reason(best: dict[str, float], trivial: float) -> str:
    """Why the best epoch of a training is degenerate, or ``""`` when it is not.

    Parameters
    ----------
    best : dict
        The history row of the best epoch, with ``val_loss`` and ``val_output_sd``.
    trivial : float
        :func:`trivial_loss` of the validation targets.

    Returns
    -------
    str
        A short reason (``"constant output (validation probabilities vary by 2e-05)"`` or
        ``"validation loss 0.6932 not below the trivial 0.6931"``), or ``""``.
    """
    spread = float(best.get("val_output_sd", math.inf))
    if spread < MIN_OUTPUT_SD:
        return f"constant output (validation probabilities vary by {spread:.1g})"
    loss = float(best["val_loss"])
    if trivial > 0.0 and not loss < trivial:
        return f"validation loss {loss:.4f} not below the trivial {trivial:.4f} of a constant prediction"
    return ""
