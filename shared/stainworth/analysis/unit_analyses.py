"""Analyses of trained task units on their test images (the ``evaluate`` stage's Figs. 7 and 11, Hotelling).

* classification: the cosine distance between the control and treated class embeddings of the
  penultimate layer for low, medium and high capacity (the study's Fig. 11) on every modality
  (``embeddings.csv``), and the channelized Hotelling observer on every modality
  (``hotelling.csv``), a capacity-free linear reference, and the distances of every stain and the
  identity baseline to the real fluorescence in the embeddings of the networks trained on it
  (``embedding_distances.csv``, :mod:`stainworth.analysis.embedding_distances`);
* segmentation: the mean activation of the penultimate decoder layer for three capacities and
  every modality (Fig. 7; ``feature_maps/<architecture slug>-<modality>.npy`` and ``.png``).

Networks of your own take part where they can: a classifier with penultimate features
(``embed``: timm models and ``py:`` networks that define it), a segmentation network whose
decoder is known (an smp ``Unet``); others are skipped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from stainworth.analysis.embedding_distances import embedding_distance_metrics, embedding_distances
from stainworth.analysis.embeddings import class_cosine_distance, embeddings
from stainworth.analysis.feature_maps import has_decoder_features, mean_activation_map, save_feature_map_png
from stainworth.analysis.observer import cho_auc
from stainworth.contracts.task import architecture_slug, modality_rank
from stainworth.evaluation.trained import TrainedUnit, capacity_levels, first_replicates, test_images
from stainworth.progress import Progress
from stainworth.tasks.sources import ModalitySources

HOTELLING_CHANNELS = 10
"""Laguerre-Gauss channels of the Hotelling observer (fewer when a class has fewer training images)."""
ANALYSIS_IMAGES = 64
"""Test images fed to the networks for feature maps (embeddings use the whole test split)."""
DISTANCES_TABLE = "embedding_distances.csv"
MAX_DISTANCE_DRAWS = 500
"""Bootstrap draws of the embedding distances at most (each draw refits a covariance and a kernel matrix)."""


def classification_analyses(units: list[TrainedUnit], sources: ModalitySources, out: Path, n_boot: int
                             ) -> tuple[dict[str, list[str]], dict[str, float]]:
    """Class-embedding cosine distances, the Hotelling reference and the embedding distances of the stains.

    Returns the files written by role, and the dashboard metrics of the embedding distances.
    """
    by_key = first_replicates(units)
    levels = capacity_levels(units)
    modalities = sorted({key[1] for key in by_key}, key=modality_rank)
    progress = Progress("evaluate embeddings", len(levels) * len(modalities) + len(modalities))
    rows = []
    for level, architecture in levels:
        for modality in modalities:
            unit = by_key.get((architecture, modality))
            if unit is None:
                continue
            net = unit.network()
            if not callable(getattr(net, "embed", None)):  # a network of your own without penultimate features
                progress.step(f"{architecture} {modality}: no embed(x), skipped")
                continue
            dataset, field = sources.get(unit.manifest.unit)
            images = test_images(dataset, field, unit.normaliser())
            labels = np.asarray(dataset.arrays("test")["label"][:])
            result = class_cosine_distance(embeddings(net, images), labels, n_boot=n_boot)
            rows.append({"level": level, "architecture": architecture, "capacity": unit.scores.capacity,
                         "modality": modality, "cosine_distance": result.distance, "ci_low": result.ci_low,
                         "ci_high": result.ci_high, "n_control": result.n_control, "n_treated": result.n_treated,
                         "run": unit.scores.run})
            progress.step(f"{architecture} {modality}")
    pd.DataFrame(rows).to_csv(out / "embeddings.csv", index=False, lineterminator="\n", float_format="%.6g")
    observers = []
    for modality in modalities:
        unit = next(u for key, u in by_key.items() if key[1] == modality)
        dataset, field = sources.get(unit.manifest.unit)
        train, test = dataset.arrays("train"), dataset.arrays("test")
        labels = np.asarray(train["label"][:])
        channels = min(HOTELLING_CHANNELS, int(min(np.sum(labels == 0), np.sum(labels == 1))) - 1)
        observer = cho_auc(np.asarray(train[field][:]), labels, np.asarray(test[field][:]),
                           np.asarray(test["label"][:]), n_channels=max(channels, 1))
        observers.append({"modality": modality, "auc": observer.auc.auc, "se": observer.auc.se,
                          "ci_low": observer.auc.ci_low, "ci_high": observer.auc.ci_high,
                          "channels": observer.n_channels, "width_px": observer.width,
                          "training_snr": observer.training_snr})
        progress.step(f"Hotelling {modality}")
    pd.DataFrame(observers).to_csv(out / "hotelling.csv", index=False, lineterminator="\n", float_format="%.6g")
    written = {"embeddings": ["embeddings.csv"], "hotelling": ["hotelling.csv"]}
    distances = embedding_distances(units, sources, n_boot=min(n_boot, MAX_DISTANCE_DRAWS))
    if distances.empty:
        return written, {}
    distances.to_csv(out / DISTANCES_TABLE, index=False, lineterminator="\n", float_format="%.6g")
    return written | {"embedding_distances": [DISTANCES_TABLE]}, embedding_distance_metrics(distances)


def feature_map_files(units: list[TrainedUnit], sources: ModalitySources, out: Path) -> list[str]:
    """Mean decoder activation maps (three capacities x modalities), written under ``out/feature_maps``."""
    by_key = first_replicates(units)
    levels = [architecture for _, architecture in capacity_levels(units)]
    (out / "feature_maps").mkdir(exist_ok=True)
    written: list[str] = []
    for (architecture, modality), unit in sorted(by_key.items()):
        if architecture not in levels:
            continue
        net = unit.network()
        if not has_decoder_features(net):  # a network of your own whose decoder is not known
            continue
        dataset, field = sources.get(unit.manifest.unit)
        mean_map = mean_activation_map(net, test_images(dataset, field, unit.normaliser(), ANALYSIS_IMAGES))
        stem = f"feature_maps/{architecture_slug(architecture)}-{modality}"
        np.save(out / f"{stem}.npy", mean_map)
        save_feature_map_png(mean_map, out / f"{stem}.png", f"{architecture} ({unit.scores.capacity:,} params), "
                             f"{modality}:\nmean penultimate decoder activation")
        written += [f"{stem}.npy", f"{stem}.png"]
    return written
