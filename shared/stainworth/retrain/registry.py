"""The model registry: versioned stainers in the store, and the one promoted to "current".

``<models_prefix>/<dataset>/<architecture>/v<N>/`` holds a version (the trained stainer folder,
the training manifest, and a :class:`~stainworth.contracts.retrain.ModelVersion` manifest written
last); ``current.json`` beside the versions names the promoted one. Versions are never
overwritten; publishing what an existing version was trained from (same ``data_key``) returns that
version, so a retried retraining adds nothing.
"""

from __future__ import annotations

import math
import re
import shutil
import tempfile
import time
from pathlib import Path

from stainworth.contracts.base import validate_model
from stainworth.contracts.manifest import MANIFEST_NAME, read_manifest, write_manifest
from stainworth.contracts.retrain import CurrentModel, ModelVersion, RetrainConfig
from stainworth.contracts.stainer import StainerManifest
from stainworth.store import Store

CURRENT = "current.json"
TRAINING_MANIFEST = "training_manifest.json"
"""The ``train_stainer`` manifest, kept beside the version's own."""
_VERSION = re.compile(r"^v(?P<number>[1-9][0-9]*)$")


def model_folder(config: RetrainConfig, dataset: str, architecture: str) -> str:
    """Store folder of one stainer's versions."""
    return f"{config.models_prefix}/{dataset}/{architecture}"


def list_versions(store: Store, folder: str) -> list[ModelVersion]:
    """The complete versions under ``folder``, oldest first."""
    numbers = sorted(int(m["number"]) for name in store.complete_folders(folder) if (m := _VERSION.match(name)))
    return [validate_model(ModelVersion, store.read_json(f"{folder}/v{n}/{MANIFEST_NAME}"),
                           where=f"{store.uri}/{folder}/v{n}/{MANIFEST_NAME}") for n in numbers]


def read_current(store: Store, folder: str) -> CurrentModel | None:
    """The promoted version of the stainer under ``folder``; None before the first promotion."""
    key = f"{folder}/{CURRENT}"
    if not store.exists(key):
        return None
    return validate_model(CurrentModel, store.read_json(key), where=f"{store.uri}/{key}")


def publish_version(store: Store, folder: str, stainer_dir: str | Path, *, data_key: str,
                    holdout: dict[str, float], extra_files: dict[str, Path] | None = None) -> tuple[ModelVersion, bool]:
    """Publish a ``train_stainer`` output as the next version, unless one was trained from ``data_key``.

    ``extra_files`` (name → local file) are published in the version beside the stainer (its
    image-quality report).

    Returns
    -------
    tuple of ModelVersion and bool
        The version, and whether it was added now (False: an existing one was reused).
    """
    versions = list_versions(store, folder)
    for version in versions:
        if version.data_key == data_key:
            return version, False
    trained = read_manifest(StainerManifest, stainer_dir)
    number = max((v.version for v in versions), default=0) + 1
    with tempfile.TemporaryDirectory(prefix="stainworth-publish-") as scratch:
        staged = Path(scratch) / f"v{number}"
        shutil.copytree(stainer_dir, staged)
        (staged / MANIFEST_NAME).rename(staged / TRAINING_MANIFEST)
        for name, path in (extra_files or {}).items():
            shutil.copyfile(path, staged / name)
        manifest = ModelVersion(
            stage="publish_stainer", config=trained.config, config_hash=trained.config_hash,
            input_hashes=dict(trained.input_hashes), counts=dict(trained.counts), metrics=dict(trained.metrics),
            paths={"stainer": list(trained.paths.get("stainer", [])), "training_manifest": [TRAINING_MANIFEST],
                   **({"report": sorted(extra_files)} if extra_files else {})},
            dataset=trained.dataset_kind, architecture=trained.architecture, version=number, data_key=data_key,
            holdout=holdout)
        written = write_manifest(manifest, staged)
        store.publish_dir(staged, f"{folder}/v{number}")
    return written, True


def is_not_worse(new: dict[str, float], current: dict[str, float] | None, *, metric: str,
                 tolerance: float) -> bool:
    """Whether ``new`` may replace ``current``: its ``metric`` is at least the current's minus ``tolerance``.

    No current version, or one whose measure is not finite (e.g. a constant output's correlation):
    always. A new version whose measure is not finite: never.
    """
    value = new.get(metric, math.nan)
    if not math.isfinite(value):
        return False
    reference = math.nan if current is None else current.get(metric, math.nan)
    return not math.isfinite(reference) or value >= reference - tolerance


def promote(store: Store, folder: str, version: ModelVersion, holdout: dict[str, float]) -> CurrentModel:
    """Make ``version`` the current one (one small object written whole)."""
    current = CurrentModel(version=version.version, key=f"{folder}/v{version.version}", holdout=holdout,
                           promoted_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    store.write_json(f"{folder}/{CURRENT}", current.model_dump(mode="json"))
    return current
