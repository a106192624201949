"""Predicted-mask panels of segmentation units (the study's Figs. 5 and 6): the networks run on a few test images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from stainworth.analysis.feature_maps import mask_panel_png
from stainworth.contracts.task import modality_rank
from stainworth.evaluation.trained import TrainedUnit, first_replicates
from stainworth.tasks.sources import ModalitySources

PANEL_IMAGES = 4
"""Test images in every panel."""


def mask_panels(units: list[TrainedUnit], sources: ModalitySources, out: Path, threshold: float) -> list[str]:
    """Predicted-mask panels across capacities and across training sizes, written under ``out/panels``."""
    by_key = first_replicates(units)
    (out / "panels").mkdir(exist_ok=True)
    written: list[str] = []
    for modality in sorted({m for _, m in by_key} | {u.manifest.unit.modality for u in units}, key=modality_rank):
        across_capacity = {a: u for (a, m), u in by_key.items() if m == modality}
        if across_capacity:
            written.append(_panel(across_capacity, sources, out / "panels" / f"capacity-{modality}.png",
                                  f"{modality}: predicted masks across capacities", threshold))
        across_size = {f"n={u.manifest.unit.train_size}": u for u in units
                       if u.manifest.unit.modality == modality and u.manifest.unit.train_size is not None
                       and u.manifest.unit.subset == 0 and u.manifest.unit.replicate == 0}
        if across_size:
            written.append(_panel(across_size, sources, out / "panels" / f"sizes-{modality}.png",
                                  f"{modality}: predicted masks across training sizes (subset 0)", threshold))
    return written


def _panel(columns: dict[str, TrainedUnit], sources: ModalitySources, path: Path, title: str,
           threshold: float) -> str:
    """One panel: a few test images, their true masks, and one column of predicted masks per unit."""
    first = next(iter(columns.values()))
    dataset, field = sources.get(first.manifest.unit)
    raw = np.asarray(dataset.arrays("test")[field][:PANEL_IMAGES], dtype=np.float32)
    truth = np.asarray(dataset.arrays("test")["mask"][:PANEL_IMAGES]) != 0
    predictions = {}
    for name, unit in sorted(columns.items(), key=lambda item: item[1].scores.capacity):
        with torch.no_grad():
            logits = unit.network()(torch.from_numpy(unit.normaliser().apply(raw))[:, None])
        predictions[name] = (torch.sigmoid(logits)[:, 0].numpy() >= threshold).astype(np.float32)
    mask_panel_png(raw, truth.astype(np.float32), predictions, path, title=title)
    return str(path.relative_to(path.parent.parent))
