"""The stages of ``retrain``: detect new acquisitions, publish and promote stainers, advance the ledger.

The ledger is advanced by :func:`advance_ledger_stage` only, the pipeline's last task; every
earlier failure leaves it as it was (see :mod:`stainworth.retrain.ledger`).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

from stainworth.contracts.base import canonical_json, config_hash
from stainworth.contracts.manifest import OutputManifest, read_manifest, write_manifest
from stainworth.contracts.retrain import Detection, RetrainConfig
from stainworth.contracts.stainer import DatasetKind, StainerManifest
from stainworth.errors import InputDataError
from stainworth.progress import Progress
from stainworth.retrain.holdout import holdout_quality, means, write_quality_table
from stainworth.retrain.ledger import advance, detect
from stainworth.retrain.registry import is_not_worse, model_folder, promote, publish_version, read_current
from stainworth.stainers.artifact import load_stainer
from stainworth.store import Store, open_store

DETECTION = "detection.json"
HOLDOUT_TABLE = "holdout_quality.csv"
"""A version's image-quality report on the holdout (one row per metric: mean, std, median, p5, p95, n)."""
MODELS = "models.json"
"""``{"<dataset>/<architecture>": {"version": N, "promoted": bool, "added": bool}}`` of one publish task."""


def detect_stage(config: RetrainConfig, output_dir: str | Path, *, store_uri: str | None = None) -> OutputManifest:
    """Compare the store's acquisitions with the ledger; write ``detection.json``; ``counts["pending"]`` new."""
    store = open_store(store_uri or None)
    detection = detect(store, config)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / DETECTION).write_text(json.dumps(detection.model_dump(mode="json"), indent=2, sort_keys=True))
    names = ", ".join(sorted(detection.pending)) or "none"
    print(f"retrain: {len(detection.pending)} new acquisition(s) of {len(detection.training)} "
          f"(holdout {len(detection.holdout)}): {names}", flush=True)
    return write_manifest(OutputManifest(stage="detect", config=config.model_dump(mode="json"),
                                         config_hash=config_hash(config), input_hashes=dict(detection.pending),
                                         counts={"pending": len(detection.pending),
                                                 "training": len(detection.training),
                                                 "holdout": len(detection.holdout)},
                                         paths={"detection": [DETECTION]}), out)


def read_detection(folder: str | Path) -> Detection:
    """The detection a ``detect`` task wrote."""
    read_manifest(OutputManifest, folder)
    return Detection.model_validate_json((Path(folder) / DETECTION).read_text())


def data_key(trained: StainerManifest) -> str:
    """What a stainer was trained from: its dataset's content hash and its training settings."""
    return hashlib.sha256(canonical_json({"data": trained.input_hashes,
                                          "training": trained.config_hash}).encode()).hexdigest()


def _current_quality(store: Store, folder: str, holdout: Path, kind: DatasetKind
                     ) -> tuple[int | None, dict[str, float] | None]:
    """The current version's number and its holdout means, measured now on the same holdout."""
    current = read_current(store, folder)
    if current is None:
        return None, None
    with tempfile.TemporaryDirectory(prefix="stainworth-current-") as scratch:
        fetched = store.fetch_dir(current.key, Path(scratch) / "current")
        return current.version, means(holdout_quality(load_stainer(fetched), holdout, kind))


def publish_stainers_stage(config: RetrainConfig, kind: DatasetKind, stainer_dirs: dict[str, str | Path],
                           holdout_datasets: str | Path, output_dir: str | Path, *,
                           store_uri: str | None = None) -> OutputManifest:
    """Score each new stainer and the current one on the holdout, publish a version, promote if not worse.

    Raises
    ------
    InputDataError
        A stainer in ``stainer_dirs`` is not of its key's architecture or not trained on ``kind``
        (checked for all before anything is published).
    """
    for architecture, stainer_dir in stainer_dirs.items():
        given = read_manifest(StainerManifest, stainer_dir)
        if (given.architecture, given.dataset_kind) != (architecture, kind):
            raise InputDataError(f"{stainer_dir}: the {given.architecture} stainer of the {given.dataset_kind} "
                                 f"dataset; expected the {architecture} stainer of the {kind} dataset")
    store = open_store(store_uri or None)
    holdout, out = Path(holdout_datasets), Path(output_dir)
    progress = Progress(f"publish ({kind})", len(stainer_dirs))
    out.mkdir(parents=True, exist_ok=True)
    models: dict[str, dict[str, int | bool]] = {}
    metrics: dict[str, float] = {}
    for architecture, stainer_dir in sorted(stainer_dirs.items()):
        trained = read_manifest(StainerManifest, stainer_dir)
        folder = model_folder(config, kind, architecture)
        summary = holdout_quality(load_stainer(stainer_dir), holdout, kind)
        new = means(summary)
        current_version, current = _current_quality(store, folder, holdout, kind)
        table = write_quality_table(summary, out / f"{architecture}-{HOLDOUT_TABLE}")
        version, added = publish_version(store, folder, stainer_dir, data_key=data_key(trained), holdout=new,
                                         extra_files={HOLDOUT_TABLE: table})
        promoted = version.version == current_version or is_not_worse(
            new, current, metric=config.promote_metric, tolerance=config.tolerance)
        if promoted and version.version != current_version:
            promote(store, folder, version, new)
        models[f"{kind}/{architecture}"] = {"version": version.version, "promoted": promoted, "added": added}
        metrics |= {f"{architecture}.holdout.{name}": value for name, value in new.items()}
        metrics |= {f"{architecture}.current.{name}": value for name, value in (current or {}).items()}
        metrics |= {f"{architecture}.version": float(version.version), f"{architecture}.promoted": float(promoted)}
        was = "none" if current is None else f"v{current_version} {current[config.promote_metric]:.3f}"
        progress.step(f"{architecture}: v{version.version}{'' if added else ' (existing)'} holdout "
                      f"{config.promote_metric} {new[config.promote_metric]:.3f} vs current {was}: "
                      f"{'current' if promoted else 'kept the current version'}")
    (out / MODELS).write_text(json.dumps(models, indent=2, sort_keys=True))
    manifest = OutputManifest(stage="publish_stainers", config=config.model_dump(mode="json"),
                              config_hash=config_hash(config), counts={"stainers": len(models)},
                              paths={"models": [MODELS],
                                     "holdout": [f"{a}-{HOLDOUT_TABLE}" for a in sorted(stainer_dirs)]},
                              metrics=metrics)
    return write_manifest(manifest, out)


def advance_ledger_stage(config: RetrainConfig, detection_dir: str | Path, published_dirs: list[str | Path],
                         output_dir: str | Path, *, run: str, store_uri: str | None = None) -> OutputManifest:
    """Record the detected acquisitions as processed (the retraining's last step)."""
    store = open_store(store_uri or None)
    detection = read_detection(detection_dir)
    models: dict[str, dict[str, object]] = {}
    for folder in published_dirs:
        read_manifest(OutputManifest, folder)
        models |= json.loads((Path(folder) / MODELS).read_text())
    ledger = advance(store, config, detection, run=run,
                     models={name: f"v{entry['version']}" for name, entry in models.items()},
                     promoted={name: bool(entry["promoted"]) for name, entry in models.items()})
    print(f"retrain: ledger {store.uri}/{config.ledger_key} now holds {len(ledger.processed)} acquisition(s)",
          flush=True)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    return write_manifest(OutputManifest(stage="advance_ledger", config=config.model_dump(mode="json"),
                                         config_hash=config_hash(config), input_hashes=dict(detection.pending),
                                         counts={"processed": len(ledger.processed), "runs": len(ledger.runs)}), out)
