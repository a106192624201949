"""Output manifests: the typed record written last into every stage output."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from pydantic import Field, ValidationError, field_validator

from stainworth import __version__
from stainworth.contracts.base import SCHEMA_VERSION, StrictModel, file_sha256, format_validation_error
from stainworth.errors import InputDataError

MANIFEST_NAME = "manifest.json"

T = TypeVar("T", bound="OutputManifest")


class OutputManifest(StrictModel):
    """What a stage wrote, how, and from what.

    A directory is a complete output only when its ``manifest.json`` exists: the manifest is
    written last, atomically, after every data file.
    """

    schema_version: str = SCHEMA_VERSION
    """Version of the manifest schema; readers refuse versions they do not know."""
    stage: str
    """Name of the stage that wrote the output (``simulate``, ``stitch``, ...)."""
    producer: str = f"stainworth {__version__}"
    """Package and version that wrote the output."""
    config: dict[str, Any]
    """The validated stage configuration, saved with the output."""
    config_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    """SHA-256 of the configuration's canonical JSON."""
    input_hashes: dict[str, str] = Field(default_factory=dict)
    """Content hash of every input, by input name."""
    counts: dict[str, int] = Field(default_factory=dict)
    """Counts of what was written (tiles, cells, images, ...)."""
    paths: dict[str, list[str]] = Field(default_factory=dict)
    """Relative POSIX paths inside the output, grouped by role."""
    metrics: dict[str, float] = Field(default_factory=dict)
    """Measured numbers (timings, quality figures)."""
    content_hash: str = ""
    """SHA-256 over the relative path and bytes of every file except the manifest."""

    @field_validator("schema_version")
    @classmethod
    def _known_schema(cls, value: str) -> str:
        if value.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
            raise ValueError(f"schema version {value} is not readable by this version ({SCHEMA_VERSION})")
        return value

    @field_validator("paths")
    @classmethod
    def _relative_paths(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for role, items in value.items():
            for item in items:
                path = PurePosixPath(item)
                if path.is_absolute() or ".." in path.parts:
                    raise ValueError(f"path '{item}' of role '{role}' must be relative inside the output")
        return value

    def summary(self) -> dict[str, Any]:
        """The part of the manifest shown as KFP artifact metadata (small, flat-ish)."""
        return {
            "schema_version": self.schema_version,
            "stage": self.stage,
            "producer": self.producer,
            "config_hash": self.config_hash,
            "content_hash": self.content_hash,
            "input_hashes": dict(self.input_hashes),
            "counts": dict(self.counts),
            "metrics": dict(self.metrics),
        }


def directory_content_hash(directory: str | Path) -> str:
    """SHA-256 over (relative path, file SHA-256) of every file but the manifest, sorted."""
    root = Path(directory)
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        if relative == MANIFEST_NAME or relative.endswith(".tmp"):
            continue
        digest.update(relative.encode())
        digest.update(b"\0")
        digest.update(file_sha256(path).encode())
    return digest.hexdigest()


def write_manifest(manifest: T, directory: str | Path) -> T:
    """Fill in the content hash and write ``manifest.json`` atomically, last.

    Returns the manifest with its ``content_hash`` set.
    """
    root = Path(directory)
    for items in manifest.paths.values():
        for item in items:
            if not (root / item).exists():
                raise InputDataError(f"{root}: manifest lists '{item}' but no such file was written")
    manifest.content_hash = directory_content_hash(root)
    target = root / MANIFEST_NAME
    temporary = root / (MANIFEST_NAME + ".tmp")
    temporary.write_text(manifest.model_dump_json(indent=2))
    os.replace(temporary, target)
    return manifest


def read_manifest(model_type: type[T], directory: str | Path) -> T:
    """Read and validate the manifest of a complete output directory."""
    path = Path(directory) / MANIFEST_NAME
    if not path.is_file():
        raise InputDataError(f"{path}: no manifest; the output is missing or incomplete")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise InputDataError(f"{path}: not valid JSON ({error.msg} at line {error.lineno})") from None
    try:
        return model_type.model_validate(data)
    except ValidationError as error:
        raise InputDataError(format_validation_error(error, where=str(path))) from None
