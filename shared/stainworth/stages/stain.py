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
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from stainworth.contracts.base import canonical_json, config_hash, validate_model
from stainworth.contracts.fields import DatasetManifest
from stainworth.contracts.manifest import read_manifest, write_manifest
from stainworth.contracts.stainer import Architecture, DatasetKind, StainConfig, StainerManifest, StainerTrainConfig
from stainworth.datasets.folders import DATASET_DIR, dataset_folder, read_dataset
from stainworth.datasets.storage import Dataset, DatasetWriter
from stainworth.errors import InputDataError
from stainworth.nets.devices import resolve_device
from stainworth.progress import Progress
from stainworth.stainers.artifact import FOLDER, TrainedStainer, load_stainer
from stainworth.stainers.quality import image_quality, summarise
from stainworth.stainers.train import train_stainer
from stainworth.store import open_store
from stainworth.store.checkpoints import StoreCheckpoints
from stainworth.store.model_file import fetch_model_file

QUALITY_TABLE = "quality_test.csv"
STAIN_CHUNK = 256
"""Items stained and written at once (a multiple of the dataset chunk)."""


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
    source = dataset_folder(datasets_dir, kind)
    data_manifest, dataset = read_dataset(source, kind)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    item_shape = tuple(int(v) for v in dataset.attrs["item_shape"])
    labelled = "label" in dataset.arrays(dataset.splits[0])
    writer = DatasetWriter(out / DATASET_DIR, kind=kind, item_shape=(item_shape[0], item_shape[1]),
                           counts=dataset.counts, chunk=64, labelled=labelled)
    steps = sum(-(-n // STAIN_CHUNK) for n in dataset.counts.values())
    progress = Progress("apply_stainer", steps)
    quality: dict[str, list[np.ndarray]] = {}
    try:
        for split in dataset.splits:
            for name, values in _stain_split(stainer, dataset, split, writer, config.apply.batch_size, progress):
                quality.setdefault(name, []).append(values)
        virtual_set = writer.publish(sources=list(dataset.attrs.get("sources", [])), stats=dataset.stats,
                                     attrs={"virtual": True, "stainer": stainer_manifest.content_hash,
                                            "architecture": stainer_manifest.architecture,
                                            "source_dataset": data_manifest.content_hash})
    except BaseException:
        writer.abort()
        raise
    per_image = {name: np.concatenate(values) for name, values in quality.items()}
    metrics: dict[str, float] = {}
    if per_image:
        pd.DataFrame(per_image).to_csv(out / QUALITY_TABLE, index_label="item", lineterminator="\n")
        metrics = {f"test.{name}.{stat}": value for name, stats in summarise(per_image).items()
                   for stat, value in stats.items()}
    manifest = data_manifest.model_copy(update={
        "stage": "apply_stainer", "input_hashes": {kind: data_manifest.content_hash,
                                                   "stainer": stainer_manifest.content_hash},
        "counts": virtual_set.counts, "splits": virtual_set.counts, "metrics": metrics,
        "paths": {"dataset": [DATASET_DIR], **({"quality": [QUALITY_TABLE]} if per_image else {})},
        "content_hash": ""})
    return write_manifest(manifest, out)


def _stain_split(stainer: TrainedStainer, dataset: Dataset, split: str, writer: DatasetWriter, batch_size: int,
                 progress: Progress) -> Iterator[tuple[str, np.ndarray]]:
    """Stain one split into the writer, chunk by chunk (other fields copied).

    Yields the per-image quality metrics of each chunk of the test split.
    """
    arrays = dataset.arrays(split)
    target = writer.arrays(split)
    count = int(arrays["label_free"].shape[0])
    for start in range(0, count, STAIN_CHUNK):
        stop = min(start + STAIN_CHUNK, count)
        virtual = stainer.predict(np.asarray(arrays["label_free"][start:stop]), batch_size=batch_size)
        target["fluorescence"][start:stop] = virtual
        for name in target:
            if name != "fluorescence":
                target[name][start:stop] = np.asarray(arrays[name][start:stop])
        if split == "test":
            yield from image_quality(virtual, np.asarray(arrays["fluorescence"][start:stop]),
                                     masks=np.asarray(arrays["mask"][start:stop])).items()
        progress.step(f"{split} {stop}/{count}")
