"""Task-network training throughput: stainworth's loop against a bare PyTorch loop, per ladder rung.

The same network (built twice after ``torch.manual_seed(0)``), batch size and synthetic data
(segmentation: smooth random images and their thresholded masks; classification: a centred blob,
brighter in class 1, with balanced 0/1 labels) are trained one epoch at a time through
stainworth's loop (:func:`~stainworth.tasks.fit.fit_task` on :class:`~stainworth.tasks.data.TaskBatches`
read from a small temporary dataset) and through a bare loop that calls the network,
``BCEWithLogitsLoss`` and Adam directly on pre-made tensors. Both start each epoch with a fresh
Adam (``fit_task`` builds one per call). After a warm-up of each, the two are run ``repeats``
times, interleaved, and the fastest run of each is compared in items per second.

Only the training part of stainworth's epoch is timed: the history's ``seconds`` minus its
``val_seconds`` (the bare loop does not validate; checkpoints are written after both). The data
wait share is ``data_seconds / (data_seconds + step_seconds)`` over the same runs.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from stainworth.bench.stainers import synthetic_pairs
from stainworth.bench.table import Row
from stainworth.contracts.task import LADDERS, TaskTrainingConfig
from stainworth.datasets.storage import Dataset, write_dataset
from stainworth.nets.normalise import PercentileNormaliser
from stainworth.tasks.data import TaskBatches
from stainworth.tasks.fit import fit_task
from stainworth.tasks.fit_plan import TaskFitPlan
from stainworth.tasks.registry import TASK_NETS, build_task_net

IDENTITY = PercentileNormaliser(0.0, 1.0)
LEARNING_RATE = TaskTrainingConfig().learning_rate
Batch = tuple[torch.Tensor, torch.Tensor]

SETTINGS: dict[str, tuple[int, int, int]] = {
    "unet1": (64, 4, 32), "unet2": (64, 4, 32), "unet3": (64, 4, 32),
    "efficientunet0": (64, 4, 8), "efficientunet7": (64, 4, 4),
    "cnn1": (64, 16, 16), "cnn3": (64, 16, 16),
    "resnet18": (64, 16, 4), "resnet50": (64, 16, 4), "resnet101": (64, 16, 3),
}
"""``(size, batch, batches)`` per network for ``make bench``: the study's batch sizes (4 for
segmentation, 16 for classification) on 64x64 crops, fewer batches for the slow networks."""
QUICK_SETTINGS: dict[str, tuple[int, int, int]] = {
    "unet1": (32, 4, 16), "unet2": (32, 4, 16), "unet3": (32, 4, 16),
    "efficientunet0": (32, 4, 4), "efficientunet7": (32, 4, 2),
    "cnn1": (32, 8, 16), "cnn3": (32, 8, 16),
    "resnet18": (32, 8, 4), "resnet50": (32, 8, 2), "resnet101": (32, 8, 2),
}
"""The same for ``stainworth bench --quick``: 32x32 crops, classification batches of 8."""


def task_bench_settings(*, quick: bool = False) -> dict[str, dict[str, int]]:
    """Keyword arguments of :func:`bench_task_training` per network, segmentation ladder then classification.

    Parameters
    ----------
    quick
        Smaller crops and fewer batches (:data:`QUICK_SETTINGS`) instead of :data:`SETTINGS`.

    Returns
    -------
    settings : dict
        ``{name: {"size": ..., "batch": ..., "batches": ...}}`` in ladder order.
    """
    table = QUICK_SETTINGS if quick else SETTINGS
    names = [*LADDERS["segmentation"], *LADDERS["classification"]]
    return {name: dict(zip(("size", "batch", "batches"), table[name], strict=True)) for name in names}


def synthetic_segmentation(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Smooth random images (zero mean, unit variance) and their masks thresholded at 0.5.

    Returns
    -------
    images : numpy.ndarray
        (n, size, size) float32.
    masks : numpy.ndarray
        (n, size, size) uint8, 1 where the image exceeds 0.5.
    """
    images, _ = synthetic_pairs(n, size, seed)
    return images, (images > 0.5).astype(np.uint8)


def synthetic_classification(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A centred disc on noise, brighter in class 1; labels alternate 0, 1, 0, ... (balanced).

    Returns
    -------
    images : numpy.ndarray
        (n, size, size) float32.
    masks : numpy.ndarray
        (n, size, size) uint8, the discs.
    labels : numpy.ndarray
        (n,) uint8.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    labels = (np.arange(n) % 2).astype(np.uint8)
    radius = rng.uniform(size / 8, size / 4, n)[:, None, None]
    masks = ((yy - size / 2) ** 2 + (xx - size / 2) ** 2 <= radius**2).astype(np.uint8)
    brightness = np.where(labels == 1, 1.0, 0.5)[:, None, None]
    images = (masks * brightness + rng.normal(0.0, 0.1, masks.shape)).astype(np.float32)
    return images, masks, labels


def _split(task: str, n: int, size: int, seed: int) -> dict[str, np.ndarray]:
    """The fields of one dataset split of ``n`` synthetic items (fluorescence is a copy of label-free)."""
    if task == "segmentation":
        images, masks = synthetic_segmentation(n, size, seed)
        extra: dict[str, np.ndarray] = {}
    else:
        images, masks, labels = synthetic_classification(n, size, seed)
        extra = {"label": labels}
    return {"label_free": images, "fluorescence": images.copy(), "mask": masks,
            "positions": np.zeros((n, 2), np.int64), "source": np.zeros(n, np.uint16), **extra}


def synthetic_dataset(path: Path, task: str, *, size: int, train: int, val: int) -> Dataset:
    """Write a small synthetic task dataset with ``train`` and ``val`` splits.

    Parameters
    ----------
    path
        Target folder (must not exist, or be empty).
    task
        ``"segmentation"`` or ``"classification"``.
    size
        Side of the square items, px.
    train, val
        Items per split.
    """
    splits = {"train": _split(task, train, size, seed=0), "val": _split(task, val, size, seed=1)}
    return write_dataset(path, splits, None, None, kind=task, sources=["synthetic"])


def _bare_epoch(net: torch.nn.Module, tensors: list[Batch]) -> float:
    """Seconds for one pass of direct network/loss/optimiser calls over pre-made batches (fresh Adam)."""
    optimiser = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    net.train()
    started = time.perf_counter()
    for x, y in tensors:
        optimiser.zero_grad(set_to_none=True)
        loss_fn(net(x), y).backward()
        optimiser.step()
    return time.perf_counter() - started


def _ours_epoch(net: torch.nn.Module, train: TaskBatches, val: TaskBatches, scratch: Path,
                seed: int) -> dict[str, float]:
    """One epoch of :func:`fit_task` in a fresh work folder (removed after); its history row."""
    with tempfile.TemporaryDirectory(dir=scratch) as workdir:
        plan = TaskFitPlan(task=train.task, max_epochs=1, patience=1, seed=seed, learning_rate=LEARNING_RATE)
        result = fit_task(net, train, val, workdir, plan, log=lambda line: None, restore_best=False)
    return result.history[0]


def bench_task_training(name: str, *, size: int, batch: int, batches: int, repeats: int = 3) -> list[Row]:
    """Items/s of stainworth's task training loop and of a bare loop on the same network and data.

    Parameters
    ----------
    name
        A task network of :data:`~stainworth.tasks.registry.TASK_NETS`, e.g. ``"unet1"``.
    size
        Side of the square synthetic images, px.
    batch
        Items per batch.
    batches
        Batches per timed epoch.
    repeats
        Timed epochs of each loop, interleaved; the fastest of each is compared.

    Returns
    -------
    rows : list of Row
        The bare loop (items/s, ratio 1), stainworth's loop (items/s, ratio to the bare loop) and
        stainworth's data wait share (%, no reference).
    """
    task = TASK_NETS[name].task
    torch.manual_seed(0)
    ours_net, bare_net = build_task_net(name, in_channels=1), build_task_net(name, in_channels=1)
    ours: list[dict[str, float]] = []
    bare: list[float] = []
    with tempfile.TemporaryDirectory(prefix="stainworth-bench-") as folder:
        scratch = Path(folder)
        dataset = synthetic_dataset(scratch / "data", task, size=size, train=batch * batches, val=batch)
        train = TaskBatches(dataset, "train", "label_free", IDENTITY, batch_size=batch)
        val = TaskBatches(dataset, "val", "label_free", IDENTITY, batch_size=batch)
        tensors = list(train.epoch(0, seed=0, shuffle=False))
        warm_up = TaskBatches(dataset, "train", "label_free", IDENTITY, batch_size=batch, indices=np.arange(batch))
        _bare_epoch(bare_net, tensors[:1])
        _ours_epoch(ours_net, warm_up, val, scratch, seed=0)
        for repeat in range(repeats):
            bare.append(_bare_epoch(bare_net, tensors))
            ours.append(_ours_epoch(ours_net, train, val, scratch, seed=repeat))
    return _rows(name, task, ours, bare, items=batch * batches, size=size, batch=batch)


def _rows(name: str, task: str, ours: list[dict[str, float]], bare: list[float], *, items: int, size: int,
          batch: int) -> list[Row]:
    """Throughput rows (fastest run of each loop) and the data wait share over all of stainworth's runs."""
    best_ours = items / min(row["seconds"] - row["val_seconds"] for row in ours)
    best_bare = items / min(bare)
    data = sum(row["data_seconds"] for row in ours)
    share = 100.0 * data / max(data + sum(row["step_seconds"] for row in ours), 1e-12)
    note = f"{task}, batch {batch} of {size}x{size}, {items} items; fastest of {len(bare)}"
    return [Row(f"train {name}: bare PyTorch loop", best_bare, best_bare, "items/s", note),
            Row(f"train {name}: stainworth loop", best_ours, best_bare, "items/s",
                "ratio = throughput vs the bare loop (training time only); goal >= 0.95"),
            Row(f"train {name}: data wait share", share, None, "%",
                f"data / (data + step) seconds over {len(ours)} epochs of stainworth's loop; goal < 5%")]
