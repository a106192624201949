"""Configuration and manifest of the ``simulate`` stage (phantom acquisitions)."""

from __future__ import annotations

from pydantic import Field, field_validator

from stainworth.contracts.acquisition import Condition
from stainworth.contracts.base import StrictModel
from stainworth.contracts.manifest import OutputManifest
from stainworth.contracts.phantom import PhantomConfig


class SimulateConfig(StrictModel):
    """How many phantom acquisitions to render, and with which physics."""

    seed: int = Field(default=0, ge=0)
    """Seed of the whole simulation; every acquisition derives its own seed from it."""
    fields_per_condition: int = Field(default=2, ge=1, le=10_000)
    """Number of acquisitions (fields of view) rendered for each condition."""
    conditions: list[Condition] = Field(default=["control", "treated"])
    """Conditions to render (control: untreated; treated: long 5-FU exposure)."""
    store_prefix: str = Field(default="acquisitions", pattern=r"^[A-Za-z0-9._/-]+$")
    """Store prefix under which each acquisition is published as its own folder."""
    phantom: PhantomConfig = Field(default_factory=PhantomConfig)
    """Physics, biology and acquisition parameters of the phantom."""

    @field_validator("conditions")
    @classmethod
    def _distinct_conditions(cls, value: list[str]) -> list[str]:
        if not value or len(set(value)) != len(value):
            raise ValueError(f"conditions must be non-empty and distinct; found {value}")
        return value


class SimulateManifest(OutputManifest):
    """What a ``simulate`` run published: one entry per acquisition."""

    stage: str = "simulate"
    store_uri: str
    """Store the acquisitions were published to."""
    acquisitions: dict[str, str] = Field(default_factory=dict)
    """Content hash of each published acquisition, by store prefix."""
