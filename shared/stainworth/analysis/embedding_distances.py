"""How far a stain is from the real fluorescence in the eyes of a network trained on the real fluorescence.

The stain report measures the stains against the real fluorescence with hand-made nucleus features
(:mod:`stainworth.stainers.feature_distance`). The task networks give a second, learned view
(the FID/KID idea, with the study's own classifiers instead of an ImageNet network): for the
classifier trained on the real fluorescence at low, medium and high capacity (the first replicate),
the penultimate-layer embeddings of every test nucleus are computed from the real fluorescence and
from each stain, and the distance between the two distributions is measured.

* **Inputs.** The stains are fed as fluorescence: normalised by the real fluorescence's training
  percentiles, as the network was trained, so a stain on the wrong intensity scale is far. The
  **identity baseline** is the label-free image mapped onto the fluorescence by its percentiles (the
  stain report's identity rule): label-free images normalised by their own training percentiles. A
  stain that is no closer than the identity baseline gives the network nothing its label-free input
  did not.
* **Dimensions.** Embeddings have 32 to 2,048 dimensions for a few hundred nuclei, too many for a
  covariance (Fréchet) to be estimated. Both sets are projected on the leading principal components
  of the real fluorescence's embeddings (:data:`EMBEDDING_DIMENSIONS`, fewer when there are fewer
  than ten nuclei per dimension), then standardised by the real nuclei.
* **Distances.** The Fréchet distance of Gaussian fits and the unbiased kernel distance (cubic
  polynomial kernel, paired U-statistic), each with a percentile bootstrap interval over nuclei
  (:func:`stainworth.stainers.feature_distance.feature_distances`): the same nuclei in both sets.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from stainworth.analysis.embeddings import embeddings
from stainworth.contracts.task import architecture_slug, is_virtual, modality_rank
from stainworth.evaluation.trained import TrainedUnit, capacity_levels, first_replicates, test_images
from stainworth.nets.normalise import PercentileNormaliser
from stainworth.progress import Progress
from stainworth.stainers.feature_distance import feature_distances
from stainworth.tasks.sources import ModalitySources

EMBEDDING_DIMENSIONS = 32
"""Principal components of the real fluorescence's embeddings kept for the distances."""
IDENTITY = "identity (label-free)"
"""How the identity baseline is named in the table."""
COLUMNS = ("level", "architecture", "capacity", "compared", "distance", "estimate", "ci_low", "ci_high", "n",
           "dimensions", "run")


def principal_projection(real: np.ndarray, others: list[np.ndarray], dimensions: int = EMBEDDING_DIMENSIONS
                         ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Project ``real`` and each of ``others`` on the leading principal components of ``real``.

    At most ``dimensions`` components, and at most one per ten rows of ``real`` and the number of
    components with non-zero variance.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> real = rng.normal(size=(200, 5)) * [5, 1, 1, 1, 1]
    >>> projected, _ = principal_projection(real, [], dimensions=2)
    >>> projected.shape
    (200, 2)
    """
    centre = real.mean(axis=0)
    _, singular, components = np.linalg.svd(real - centre, full_matrices=False)
    positive = int(np.sum(singular > singular[0] * 1e-9)) if singular.size and singular[0] > 0 else 1
    keep = max(1, min(dimensions, real.shape[0] // 10, positive))
    basis = components[:keep].T
    return (real - centre) @ basis, [(other - centre) @ basis for other in others]


def embedding_distances(units: list[TrainedUnit], sources: ModalitySources, *, n_boot: int = 200,
                        seed: int = 0) -> pd.DataFrame:
    """Distances of every stain and the identity baseline to the real fluorescence in the fluorescence networks.

    Parameters
    ----------
    units
        Classification units of the capacity sweep (the first replicate of each network trained on
        ``fluorescence`` is used, at low, medium and high capacity).
    sources
        Where each modality's dataset is.
    n_boot, seed
        Bootstrap draws over nuclei and their seed.

    Returns
    -------
    pandas.DataFrame
        One row per (capacity level, compared images, distance) with :data:`COLUMNS`: ``compared``
        the stain (``virtual_<name>``) or :data:`IDENTITY`; ``distance`` ``frechet`` or
        ``kernel``; the estimate and its interval; ``n`` the test nuclei; ``dimensions`` the
        principal components used; ``run`` the fluorescence network's unit. Empty when no network
        was trained on the fluorescence or none has penultimate features.
    """
    by_key = first_replicates(units)
    stains = sorted({modality for _, modality in by_key if is_virtual(modality)}, key=modality_rank)
    levels = [(level, architecture) for level, architecture in capacity_levels(units)
              if (architecture, "fluorescence") in by_key]
    progress = Progress("evaluate embedding distances", len(levels))
    rows = []
    for level, architecture in levels:
        unit = by_key[(architecture, "fluorescence")]
        net = unit.network()
        if not callable(getattr(net, "embed", None)):  # a network of your own without penultimate features
            progress.step(f"{architecture}: no embed(x), skipped")
            continue
        reference = unit.manifest.unit
        real_set, real_field = sources.get(reference)
        normaliser = unit.normaliser()
        real = embeddings(net, test_images(real_set, real_field, normaliser))
        compared = {stain: embeddings(net, test_images(*sources.get(reference.model_copy(update={"modality": stain})),
                                                       normaliser)) for stain in stains}
        label_free_set, label_free_field = sources.get(reference.model_copy(update={"modality": "label_free"}))
        own = PercentileNormaliser.fit(label_free_set.arrays("train")[label_free_field])
        compared[IDENTITY] = embeddings(net, test_images(label_free_set, label_free_field, own))
        projected, others = principal_projection(real, list(compared.values()))
        for name, values in zip(compared, others, strict=True):
            for distance, result in feature_distances(values, projected, n_boot=n_boot, seed=seed).items():
                rows.append({"level": level, "architecture": architecture, "capacity": unit.scores.capacity,
                             "compared": name, "distance": distance, "estimate": result.estimate,
                             "ci_low": result.ci_low, "ci_high": result.ci_high, "n": result.n,
                             "dimensions": projected.shape[1], "run": unit.scores.run})
        progress.step(architecture)
    return pd.DataFrame(rows, columns=list(COLUMNS))


def embedding_distance_metrics(table: pd.DataFrame) -> dict[str, float]:
    """Dashboard metrics of :func:`embedding_distances`: ``embedding.<network>.<compared>.<distance>``.

    >>> embedding_distance_metrics(pd.DataFrame([{"architecture": "resnet18", "compared": IDENTITY,
    ...                                            "distance": "frechet", "estimate": 4.0}]))
    {'embedding.resnet18.identity.frechet': 4.0}
    """
    def name(row: pd.Series) -> str:
        compared = "identity" if row["compared"] == IDENTITY else row["compared"]
        return f"embedding.{architecture_slug(str(row['architecture']))}.{compared}.{row['distance']}"

    return {name(row): float(row["estimate"]) for _, row in table.iterrows()}
