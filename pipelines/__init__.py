"""Pipeline definitions (installed as ``stainworth.pipelines``) and their registry."""

from __future__ import annotations

import importlib
from typing import Any

from stainworth.contracts.profile import Profile
from stainworth.errors import PipelineError

PIPELINES: dict[str, str] = {
    "simulate": "stainworth.pipelines.simulate",
    "prepare": "stainworth.pipelines.prepare",
    "stain": "stainworth.pipelines.stain",
    "seg_capacity": "stainworth.pipelines.seg_capacity",
    "seg_learnable": "stainworth.pipelines.seg_learnable",
    "cls_capacity": "stainworth.pipelines.cls_capacity",
    "cls_learnable": "stainworth.pipelines.cls_learnable",
    "study": "stainworth.pipelines.study",
    "retrain": "stainworth.pipelines.retrain",
}
"""Pipeline name → module defining ``build(profile)``."""


def build_pipeline(name: str, profile: Profile) -> Any:
    """Build the named pipeline with the profile's values as its parameter defaults."""
    if name not in PIPELINES:
        raise PipelineError(f"pipeline '{name}': unknown; expected one of {sorted(PIPELINES)}")
    module = importlib.import_module(PIPELINES[name])
    return module.build(profile)
