"""Base classes and helpers shared by every contract (stage configs and output manifests)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from stainworth.errors import ConfigError

SCHEMA_VERSION = "1.0"

M = TypeVar("M", bound=BaseModel)

DeviceName = Literal["auto", "cpu", "cuda"]
"""Where a network trains: ``auto`` (the GPU when the task has one, else the CPU), ``cpu`` or ``cuda``."""


class StrictModel(BaseModel):
    """A Pydantic model that rejects unknown keys and validates on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


def canonical_json(data: Any) -> str:
    """JSON text with sorted keys and no whitespace, stable across runs."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def config_hash(model: BaseModel) -> str:
    """SHA-256 (hex) of a model's canonical JSON dump."""
    return hashlib.sha256(canonical_json(model.model_dump(mode="json")).encode()).hexdigest()


def file_sha256(path: str | Path, *, chunk_size: int = 1 << 20) -> str:
    """SHA-256 (hex) of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def format_validation_error(error: ValidationError, *, where: str) -> str:
    """One line naming the first invalid field, the value found and what was expected.

    Parameters
    ----------
    error
        The Pydantic validation error.
    where
        What was being validated (a file path, ``profile mini`` or ``simulate config``).
    """
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "(root)"
    found = first.get("input")
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        return f"{where}: unknown field '{field}' (remove it or check its spelling)"
    if first["type"] == "missing":
        return f"{where}: field '{field}' is required but missing"
    more = f" (and {len(error.errors()) - 1} more)" if len(error.errors()) > 1 else ""
    shown = "" if isinstance(found, dict) else f"; found {found!r}"  # a whole section: the message names the value
    return f"{where}: field '{field}': {message}{shown}{more}"


def validate_model(model_type: type[M], data: Any, *, where: str) -> M:
    """Validate ``data`` into ``model_type`` or raise a one-line :class:`ConfigError`."""
    try:
        return model_type.model_validate(data)
    except ValidationError as error:
        raise ConfigError(format_validation_error(error, where=where)) from None
