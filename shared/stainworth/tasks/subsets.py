"""Random training subsets of several sizes, the same for every input modality.

The study trains each task network on training sets of several sizes, three times each, on
randomly drawn subsets of the training pool. Subsets here depend only on
``(pool_size, sizes, n_subsets, seed, labels)``: real, virtual and label-free inputs share item
indices, so every modality is trained on exactly the same items and differences between
modalities are not differences between draws.

Rules:

* **Disjoint when possible.** When ``n_subsets * size <= pool_size`` the subsets of one size are
  disjoint (consecutive blocks of one random permutation of the pool), so the repeated runs see
  independent data. Otherwise each subset is an independent draw without replacement: no item
  repeats within a subset, but subsets overlap (they must).
* **Each size has its own generator**, seeded by ``(seed, size)``: adding or removing a size
  leaves the subsets of the other sizes unchanged. Subsets of different sizes are independent
  (a smaller subset is not nested in a larger one).
* **Stratified** when ``labels`` are given (classification, recommended): every subset of a size
  holds the same number of items of each class, proportional to the pool's class counts (largest
  remainders) and at least one of each class when the size allows, so no subset loses a class by
  chance. Disjointness is then decided class by class (``n_subsets * k_c <= n_c`` for a class of
  ``n_c`` pool items and ``k_c`` items per subset), which can fail for one class when
  ``n_subsets * size`` is within a few items of ``pool_size``; that class is then drawn
  independently per subset.

Index arrays are sorted int64, ready for :class:`stainworth.tasks.data.TaskBatches`. The pool's
labels are ``dataset.arrays("train")["label"][:]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from stainworth.errors import ConfigError, InputDataError


def draw_subsets(pool_size: int, sizes: Sequence[int], n_subsets: int = 3, seed: int = 0, *,
                 labels: Any = None) -> dict[int, list[np.ndarray]]:
    """``n_subsets`` random subsets of the training pool for each training-set size.

    Parameters
    ----------
    pool_size
        Items in the training pool (indices ``0 .. pool_size - 1``).
    sizes
        Training-set sizes; duplicates are drawn once.
    n_subsets
        Subsets per size (the study's repeats: 3).
    seed
        Seed of every draw.
    labels
        (pool_size,) class labels of the pool to stratify by (classification); ``None``: not
        stratified.

    Returns
    -------
    dict of int to list of numpy.ndarray
        ``{size: [indices, ...]}`` in the order of ``sizes``, each index array sorted int64 of
        length ``size``.

    Raises
    ------
    ConfigError
        A size or ``n_subsets`` below 1, or a negative pool size.
    InputDataError
        A size larger than the pool, or labels of another length than the pool.
    """
    _check_arguments(pool_size, sizes, n_subsets)
    classes = _classes(labels, pool_size)
    out: dict[int, list[np.ndarray]] = {}
    for size in dict.fromkeys(int(s) for s in sizes):
        rng = np.random.default_rng([int(seed), size])
        quotas = _quotas(size, [len(members) for members in classes])
        per_class = [_draw(members, quota, n_subsets, rng) for members, quota in zip(classes, quotas, strict=True)]
        out[size] = [np.sort(np.concatenate([draws[j] for draws in per_class])) for j in range(n_subsets)]
    return out


def _check_arguments(pool_size: int, sizes: Sequence[int], n_subsets: int) -> None:
    if int(pool_size) < 0:
        raise ConfigError(f"pool size {pool_size}: expected a number of items >= 0")
    if int(n_subsets) < 1:
        raise ConfigError(f"n_subsets {n_subsets}: expected at least 1 subset per size")
    for size in sizes:
        if int(size) < 1:
            raise ConfigError(f"training size {size}: expected at least 1 item")
        if int(size) > int(pool_size):
            raise InputDataError(f"training size {size} larger than the pool of {pool_size} training items")


def _classes(labels: Any, pool_size: int) -> list[np.ndarray]:
    """Pool indices of each class (one class of all items when ``labels`` is ``None``)."""
    if labels is None:
        return [np.arange(pool_size, dtype=np.int64)]
    values = np.asarray(labels).reshape(-1)
    if values.size != pool_size:
        raise InputDataError(f"labels: found {values.size} for a pool of {pool_size} training items; "
                             "expected one label per item")
    return [np.flatnonzero(values == value).astype(np.int64) for value in np.unique(values)]


def _quotas(size: int, counts: list[int]) -> list[int]:
    """Items per class in a subset of ``size``: proportional (largest remainders), at least 1 each if possible."""
    exact = np.asarray(counts, dtype=np.float64) * size / sum(counts)
    quotas = np.floor(exact).astype(int)
    for k in np.argsort(-(exact - quotas), kind="stable")[:size - int(quotas.sum())]:
        quotas[k] += 1
    if size >= len(counts):
        while (quotas == 0).any():
            quotas[int(np.argmax(quotas))] -= 1
            quotas[int(np.flatnonzero(quotas == 0)[0])] += 1
    return [int(q) for q in quotas]


def _draw(members: np.ndarray, quota: int, n_subsets: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``n_subsets`` draws of ``quota`` of ``members``: disjoint blocks if they fit, else independent draws."""
    if n_subsets * quota <= members.size:
        shuffled = rng.permutation(members)
        return [shuffled[j * quota:(j + 1) * quota] for j in range(n_subsets)]
    return [rng.choice(members, quota, replace=False) for _ in range(n_subsets)]
