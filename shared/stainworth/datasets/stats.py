"""Normalisation statistics of a dataset split (the training split only).

For label-free and fluorescence images, over all pixels (``all``) and inside the nucleus mask
(``mask``): robust percentiles (default p1 and p99.8, the percentile normalisation of CARE,
Weigert et al. 2018), mean, standard deviation, min and max. Means and standard deviations are
exact (float64 running sums over every pixel); percentiles come from a seeded uniform sample
(with replacement) of about ``max_samples`` pixels (all pixels for small splits), so they are
deterministic.

References
----------
Weigert, M. et al. Content-aware image restoration: pushing the limits of fluorescence
microscopy. Nat. Methods 15, 1090-1097 (2018). https://doi.org/10.1038/s41592-018-0216-7
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

DEFAULT_PERCENTILES = (1.0, 99.8)


class _Accumulator:
    def __init__(self) -> None:
        self.n = 0
        self.total = 0.0
        self.squares = 0.0
        self.low = np.inf
        self.high = -np.inf
        self.samples: list[np.ndarray] = []

    def add(self, values: np.ndarray, rate: float, rng: np.random.Generator) -> None:
        if values.size == 0:
            return
        values64 = values.astype(np.float64, copy=False)
        self.n += values.size
        self.total += float(values64.sum())
        self.squares += float(np.square(values64).sum())
        self.low = min(self.low, float(values.min()))
        self.high = max(self.high, float(values.max()))
        take = values.size if rate >= 1 else int(round(rate * values.size))
        if take >= values.size:
            self.samples.append(values.astype(np.float32, copy=True))
        elif take > 0:
            self.samples.append(values[rng.integers(0, values.size, size=take)].astype(np.float32))

    def result(self, percentiles: tuple[float, ...]) -> dict[str, float | None]:
        if self.n == 0:
            return {**{_key(p): None for p in percentiles}, "mean": None, "std": None, "min": None,
                    "max": None, "n_pixels": 0}
        mean = self.total / self.n
        std = float(np.sqrt(max(self.squares / self.n - mean * mean, 0.0)))
        sample = np.concatenate(self.samples) if self.samples else np.zeros(0, np.float32)
        values = np.percentile(sample, percentiles) if sample.size else [None] * len(percentiles)
        out: dict[str, float | None] = {
            _key(p): (None if v is None else float(v)) for p, v in zip(percentiles, values, strict=True)}
        out.update(mean=float(mean), std=std, min=self.low, max=self.high, n_pixels=self.n)
        return out


def _key(percentile: float) -> str:
    """``99.8`` → ``"p99_8"``, ``1.0`` → ``"p1"``."""
    text = f"{percentile:g}".replace(".", "_")
    return f"p{text}"


def normalisation_statistics(
    label_free: Any,
    fluorescence: Any,
    mask: Any,
    *,
    percentiles: tuple[float, ...] = DEFAULT_PERCENTILES,
    max_samples: int = 2_000_000,
    chunk: int = 64,
    seed: int = 0,
) -> dict[str, Any]:
    """Statistics of one split's images for normalising network inputs and targets.

    Parameters
    ----------
    label_free, fluorescence
        (n, S, S) float32 arrays (``numpy.ndarray`` or ``zarr.Array``, read ``chunk`` items at a time).
    mask
        (n, S, S) uint8 binary nucleus masks.
    percentiles
        Percentiles to report (keys ``p1``, ``p99_8``...).
    max_samples
        Upper bound on the pixels kept per image type for percentiles.
    chunk
        Items read at once.
    seed
        Seed of the pixel sample.

    Returns
    -------
    dict
        ``{"label_free": {"all": {...}, "mask": {...}}, "fluorescence": {...}, "n_items": n,
        "percentiles": [...], "max_samples": m}``; every leaf is a float, an int or None (no pixels).
    """
    n = int(label_free.shape[0])
    pixels = n * int(np.prod(label_free.shape[1:]))
    rate = 1.0 if pixels <= max_samples else max_samples / pixels
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x5747]))
    acc = {name: {"all": _Accumulator(), "mask": _Accumulator()} for name in ("label_free", "fluorescence")}
    for start in range(0, n, chunk):
        inside = np.asarray(mask[start:start + chunk]) > 0
        for name, source in (("label_free", label_free), ("fluorescence", fluorescence)):
            values = np.asarray(source[start:start + chunk])
            acc[name]["all"].add(values.ravel(), rate, rng)
            acc[name]["mask"].add(values[inside], rate, rng)
    out: dict[str, Any] = {name: {region: a.result(percentiles) for region, a in parts.items()}
                           for name, parts in acc.items()}
    out.update(n_items=n, percentiles=list(percentiles), max_samples=int(max_samples))
    return out


def dataset_statistics(arrays_of: Callable[[str], Mapping[str, Any]], splits: Sequence[str], *, chunk: int = 64,
                       seed: int = 0) -> dict[str, Any]:
    """:func:`normalisation_statistics` of the ``train`` split (the first split when there is none).

    ``arrays_of(split)`` gives a split's ``label_free``, ``fluorescence`` and ``mask`` arrays (e.g.
    :meth:`stainworth.datasets.storage.DatasetWriter.arrays`); the result names the split it used
    under ``"split"``.
    """
    split = "train" if "train" in splits else splits[0]
    arrays = arrays_of(split)
    stats = normalisation_statistics(arrays["label_free"], arrays["fluorescence"], arrays["mask"],
                                     chunk=chunk, seed=seed)
    return stats | {"split": split}


def flatten_statistics(stats: dict[str, Any], *, prefix: str = "norm") -> dict[str, float]:
    """Numeric leaves as ``{"norm.label_free.mask.p1": value, ...}`` (for manifest metrics)."""
    flat: dict[str, float] = {}
    for name in ("label_free", "fluorescence"):
        for region, values in stats.get(name, {}).items():
            for key, value in values.items():
                if value is not None:
                    flat[f"{prefix}.{name}.{region}.{key}"] = float(value)
    return flat
