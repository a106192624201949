"""Writing a virtual dataset: a source dataset item for item, its fluorescence replaced by a stainer's images.

Shared by the study's stainers (``apply_stainer``: the trained network on each item) and external
ones (``external_stainers``: the items cut from a virtual mosaic): masks, labels, positions,
sources and label-free images are copied, so every comparison downstream stays paired, and the
test split is scored against the real fluorescence as it is written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stainworth.datasets.folders import DATASET_DIR
from stainworth.datasets.storage import INSTANCE_FIELD, Dataset, DatasetWriter
from stainworth.progress import Progress
from stainworth.stainers.quality import image_quality, summarise

QUALITY_TABLE = "quality_test.csv"
CHUNK = 256
"""Items made and written at once (a multiple of the dataset chunk)."""

VirtualOf = Callable[[dict[str, np.ndarray]], np.ndarray]
"""``virtual_of(items)``: the (n, S, S) virtual stains of a chunk of items, given its arrays by field."""


def write_virtual_dataset(dataset: Dataset, out: Path, virtual_of: VirtualOf, *, attrs: Mapping[str, Any],
                          progress: str) -> tuple[Dataset, dict[str, float], dict[str, list[str]]]:
    """Write ``out/dataset.zarr`` and the test split's ``quality_test.csv``.

    Parameters
    ----------
    dataset
        The source dataset.
    out
        The output folder (created).
    virtual_of
        The stainer: a chunk's arrays (every field, ``fluorescence`` excluded) to its virtual stains.
    attrs
        Extra attributes of the virtual dataset (which stainer, which source).
    progress
        Name of the progress lines.

    Returns
    -------
    tuple
        The written dataset, the test split's summary metrics (``test.<metric>.<stat>``) and the
        manifest paths (``dataset``, and ``quality`` when the test split has items).
    """
    item_shape = tuple(int(v) for v in dataset.attrs["item_shape"])
    first = dataset.arrays(dataset.splits[0])
    labelled, instances = "label" in first, INSTANCE_FIELD in first
    steps = Progress(progress, sum(-(-n // CHUNK) for n in dataset.counts.values()))
    quality: dict[str, list[np.ndarray]] = {}
    out.mkdir(parents=True, exist_ok=True)
    with DatasetWriter(out / DATASET_DIR, kind=str(dataset.attrs["kind"]), item_shape=(item_shape[0], item_shape[1]),
                       counts=dataset.counts, chunk=64, labelled=labelled, instances=instances) as writer:
        for split in dataset.splits:
            arrays, target = dataset.arrays(split), writer.arrays(split)
            count = int(arrays["label_free"].shape[0])
            for start in range(0, count, CHUNK):
                stop = min(start + CHUNK, count)
                copied = {name: np.asarray(arrays[name][start:stop]) for name in target if name != "fluorescence"}
                virtual = virtual_of(copied)
                target["fluorescence"][start:stop] = virtual
                for name, values in copied.items():
                    target[name][start:stop] = values
                if split == "test":
                    real = np.asarray(arrays["fluorescence"][start:stop])
                    for name, values in image_quality(virtual, real, masks=copied["mask"]).items():
                        quality.setdefault(name, []).append(values)
                steps.step(f"{split} {stop}/{count}")
        written = writer.publish(sources=list(dataset.attrs.get("sources", [])), stats=dataset.stats,
                                 attrs={"virtual": True, **attrs})
    per_image = {name: np.concatenate(values) for name, values in quality.items()}
    metrics: dict[str, float] = {}
    paths = {"dataset": [DATASET_DIR]}
    if per_image:
        pd.DataFrame(per_image).to_csv(out / QUALITY_TABLE, index_label="item", lineterminator="\n")
        metrics = {f"test.{name}.{stat}": value for name, stats in summarise(per_image).items()
                   for stat, value in stats.items()}
        paths["quality"] = [QUALITY_TABLE]
    return written, metrics, paths
