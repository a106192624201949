"""Pipeline definitions (installed as ``stainworth.pipelines``) and their registry."""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

from stainworth.contracts.profile import Profile
from stainworth.contracts.task import SweepKind, Task
from stainworth.errors import PipelineError


class SweepPipeline(NamedTuple):
    """A pipeline running one sweep of one task (built by :func:`stainworth.pipelines.sweeps.build_sweeps`)."""

    task: Task
    sweep: SweepKind
    description: str
    """What the pipeline does, as the Kubeflow dashboard shows it."""


SWEEP_PIPELINES: dict[str, SweepPipeline] = {
    "seg_capacity": SweepPipeline(
        "segmentation", "capacity",
        "Prepare, train both stainers on the segmentation dataset, train every U-Net of the capacity ladder on "
        "label-free, both virtual and real fluorescence images (GPU pool), evaluate: capacity table, paired "
        "comparisons, verdict, feature maps."),
    "seg_learnable": SweepPipeline(
        "segmentation", "learnable",
        "Prepare, train both stainers on the segmentation dataset, train the learnable-capacity U-Net on random "
        "training subsets of several sizes on every modality (GPU pool), evaluate: learnable table, verdict, mask "
        "panels."),
    "cls_capacity": SweepPipeline(
        "classification", "capacity",
        "Prepare, train both stainers on the classification dataset, train every classifier of the capacity ladder "
        "on label-free, both virtual and real fluorescence images (GPU pool), evaluate: capacity table, paired "
        "comparisons (DeLong), verdict, class embeddings, Hotelling observer."),
    "cls_learnable": SweepPipeline(
        "classification", "learnable",
        "Prepare, train both stainers on the classification dataset, train the learnable-capacity classifier on "
        "random training subsets of several sizes on every modality (GPU pool), evaluate: learnable table, verdict, "
        "class embeddings, Hotelling observer."),
}
"""The single-sweep pipelines: which task's which sweep each runs (``study`` runs all four)."""

PIPELINES: dict[str, str | SweepPipeline] = {
    "simulate": "stainworth.pipelines.simulate",
    "prepare": "stainworth.pipelines.prepare",
    "stain": "stainworth.pipelines.stain",
    **SWEEP_PIPELINES,
    "study": "stainworth.pipelines.study",
    "retrain": "stainworth.pipelines.retrain",
}
"""Pipeline name → the module defining ``build(profile)``, or the single sweep it runs."""


def build_pipeline(name: str, profile: Profile) -> Any:
    """Build the named pipeline with the profile's values as its parameter defaults."""
    if name not in PIPELINES:
        raise PipelineError(f"pipeline '{name}': unknown; expected one of {sorted(PIPELINES)}")
    entry = PIPELINES[name]
    if isinstance(entry, SweepPipeline):
        from stainworth.pipelines.sweeps import build_sweeps, sweep_plan

        return build_sweeps(profile, name, sweep_plan([name]), entry.description)
    return importlib.import_module(entry).build(profile)
