"""The ``train_stainer`` and ``apply_stainer`` stages: a stainer per dataset, and its virtual dataset.

``train_stainer`` trains one architecture on one dataset of the ``extract`` output and writes the
stainer folder with its manifest; checkpoints go to the store after every epoch, so a retried task
resumes where the failed one stopped. ``apply_stainer`` writes the virtually stained version of
every split, item for item (same indices, masks, labels and positions as the source, the
fluorescence replaced by the stainer's output), and scores the test split against the real
fluorescence.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from stainworth.contracts.base import canonical_json, config_hash, validate_model
from stainworth.contracts.fields import DatasetManifest
from stainworth.contracts.manifest import read_manifest, write_manifest
from stainworth.contracts.stainer import Architecture, DatasetKind, StainConfig, StainerManifest, StainerTrainConfig
from stainworth.datasets.folders import dataset_folder, read_dataset
from stainworth.errors import InputDataError
from stainworth.nets.devices import resolve_device
from stainworth.stainers.artifact import FOLDER, load_stainer
from stainworth.stainers.train import train_stainer
from stainworth.stainers.virtual_dataset import write_virtual_dataset
from stainworth.store import open_store
from stainworth.store.checkpoints import StoreCheckpoints
from stainworth.store.model_file import fetch_model_file


def train_stainer_stage(config: StainConfig, kind: DatasetKind, architecture: Architecture, datasets_dir: str | Path,
                        output_dir: str | Path, *, store_uri: str | None = None) -> StainerManifest:
    """Train ``architecture`` on the ``kind`` dataset; write ``<output>/stainer`` and the manifest."""
    training = validate_model(StainerTrainConfig, {**config.training_for(kind).model_dump(mode="json"),
                                                   "architecture": architecture}, where="train_stainer")
    source = dataset_folder(datasets_dir, kind)
    data_manifest, dataset = read_dataset(source, kind)
    store = open_store(store_uri or None)
    out = Path(output_dir)
    resumable = hashlib.sha256(canonical_json({"training": training.model_dump(mode="json", exclude={"max_epochs"}),
                                               "data": data_manifest.content_hash}).encode()).hexdigest()
    key = f"{config.store_prefix}/checkpoints/{kind}-{architecture}-{resumable[:12]}"
    with tempfile.TemporaryDirectory(prefix="stainworth-train-") as scratch:
        work = Path(scratch) / "work"
        sync = StoreCheckpoints(store, key, work)
        if sync.restore():
            print(f"train_stainer: checkpoints of an earlier attempt restored from {store.uri}/{key}", flush=True)
        weights = None
        if architecture == "efficientunet" and training.efficientunet.encoder_weights_uri:
            weights = fetch_model_file(training.efficientunet.encoder_weights_uri, Path(scratch),
                                       field="stain.training.efficientunet.encoder_weights_uri")
        summary = train_stainer(training, dataset, work, out / FOLDER, encoder_weights=weights,
                                dataset_hash=data_manifest.content_hash, log=sync.printer("train_stainer epoch"))
    best = summary.fit.best
    manifest = StainerManifest(
        stage="train_stainer", config=training.model_dump(mode="json"), config_hash=config_hash(training),
        input_hashes={kind: data_manifest.content_hash}, paths={"stainer": [FOLDER]},
        counts={"epochs_run": summary.fit.epochs_run, "best_epoch": summary.fit.best_epoch,
                "trainable_parameters": summary.parameters, "train_items": dataset.counts["train"]},
        metrics={"val_loss": best["val_loss"], "val_ssim": best["val_ssim"],
                 "train_seconds": float(sum(row["seconds"] for row in summary.fit.history))},
        architecture=architecture, dataset_kind=kind, alpha=summary.alpha, stopped_early=summary.fit.stopped_early,
        alpha_search=summary.alpha_search, device=summary.device)
    written = write_manifest(manifest, out)
    store.publish_dir(out, f"{config.store_prefix}/{kind}-{architecture}-{written.content_hash[:12]}")
    return written


def apply_stainer_stage(config: StainConfig, kind: DatasetKind, stainer_dir: str | Path, datasets_dir: str | Path,
                        output_dir: str | Path) -> DatasetManifest:
    """Virtually stain every split of the ``kind`` dataset; score the test split; manifest last."""
    stainer_manifest = read_manifest(StainerManifest, stainer_dir)
    if stainer_manifest.dataset_kind != kind:
        raise InputDataError(f"apply_stainer: the stainer in {stainer_dir} was trained on the "
                             f"{stainer_manifest.dataset_kind} dataset; expected one trained on {kind}")
    stainer = load_stainer(Path(stainer_dir) / FOLDER, device=resolve_device(config.training.device))
    if config.apply.average_symmetries:
        stainer = stainer.averaging_its_training_symmetries()
    data_manifest, dataset = read_dataset(dataset_folder(datasets_dir, kind), kind)
    out = Path(output_dir)
    virtual_set, metrics, paths = write_virtual_dataset(
        dataset, out, lambda items: stainer.predict(items["label_free"], batch_size=config.apply.batch_size),
        attrs={"stainer": stainer_manifest.content_hash, "architecture": stainer_manifest.architecture,
               "source_dataset": data_manifest.content_hash}, progress="apply_stainer")
    manifest = data_manifest.model_copy(update={
        "stage": "apply_stainer", "input_hashes": {kind: data_manifest.content_hash,
                                                   "stainer": stainer_manifest.content_hash},
        "counts": virtual_set.counts, "splits": virtual_set.counts, "metrics": metrics, "paths": paths,
        "content_hash": ""})
    return write_manifest(manifest, out)
