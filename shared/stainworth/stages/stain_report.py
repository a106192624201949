"""The ``stain_report`` stage: image quality of both stainers against two trivial baselines, and image panels.

For one dataset, the test split's virtual stains of Pix2pixHD and the EfficientUNet are scored
against the real fluorescence (SSIM, PSNR, Pearson correlation over the whole image and inside
the nucleus masks, MSE, NRMSE; means and distributions) beside two baselines that need no
network:

- **identity**: the label-free image itself, mapped onto the fluorescence scale by the two
  percentile normalisations (its 1st..99.8th percentile span onto the fluorescence's);
- **linear**: the best global linear map ``a * label_free + b`` (least squares on the training
  split's pixels).

Beside the pixel metrics, each image's Fourier ring correlation resolution against the real
fluorescence (``frc_um``: the finest detail reproduced, 1/7 threshold, in um from the dataset's
pixel size; :mod:`stainworth.stainers.resolution`). On the classification dataset every metric is
also summarised per class of the test images (``quality_by_class.csv``: control, treated). The
distributions of per-nucleus intensity and texture features of each method and of the real
fluorescence are compared by Fréchet and kernel distances with bootstrap intervals over nuclei
(``feature_distances.csv``; :mod:`stainworth.stainers.feature_distance`), the baselines giving
the scale.

Each stainer is compared with each baseline on SSIM, Pearson correlation and Pearson correlation
inside nuclei by the paired per-image difference and its 95% t interval over the test images
(:func:`~stainworth.stainers.quality.paired_difference`; one training of the stainer, so the
interval leaves out its training variance). ``baselines.csv`` has every comparison; the manifest
has ``<stainer>.minus_<baseline>.<metric>`` (and ``.ci_low``, ``.ci_high``) and
``<stainer>.beats_baselines``: 1 when the interval of every comparison lies above zero. A
stainer that does not beat both has learned no more than the intensity scale on that metric. The image
panels follow the study's Figures 2 (segmentation patches) and 8 (single nuclei): one row per
test item, columns label-free, Pix2pixHD, EfficientUNet, real fluorescence; the three
fluorescence columns share the real image's display range.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stainworth.contracts.base import config_hash
from stainworth.contracts.fields import DatasetManifest
from stainworth.contracts.manifest import OutputManifest, read_manifest, write_manifest
from stainworth.contracts.stainer import DatasetKind, StainConfig
from stainworth.datasets.folders import DATASET_DIR, dataset_folder, read_dataset
from stainworth.datasets.storage import Dataset, open_dataset
from stainworth.errors import InputDataError
from stainworth.stainers.feature_distance import feature_distances, nucleus_features
from stainworth.stainers.quality import image_quality, paired_difference, summarise
from stainworth.stainers.resolution import frc_resolution
from stainworth.stainers.train import dataset_normalisers

PANELS = "panels.png"
SUMMARY = "quality_summary.csv"
BY_CLASS = "quality_by_class.csv"
"""Classification only: :data:`SUMMARY` per class of the test images."""
RESOLUTION = "frc_um"
"""Per-image metric: the Fourier ring correlation resolution against the real fluorescence, um."""
CLASS_NAMES = {0: "control", 1: "treated"}
DISTANCES = "feature_distances.csv"
"""Fréchet and kernel distances of each method's per-nucleus features to the real fluorescence's."""
MAX_NUCLEI = 2000
"""Most test nuclei the feature distances are computed over (the kernel distance is quadratic in them)."""
COMPARISONS = "baselines.csv"
BASELINES = ("identity", "linear")
BASELINE_METRICS = ("ssim", "pearson", "pearson_nucleus")
"""A stainer must beat both baselines on these (``<stainer>.beats_baselines`` in the manifest)."""
TITLES = {"pix2pixhd": "Pix2pixHD", "efficientunet": "EfficientUNet"}


def linear_baseline(dataset: Dataset, *, max_pixels: int = 2_000_000, seed: int = 0) -> tuple[float, float]:
    """Least-squares ``(a, b)`` of ``fluorescence ~ a * label_free + b`` over sampled training pixels."""
    arrays = dataset.arrays("train")
    count = int(arrays["label_free"].shape[0])
    take = min(count, max(1, max_pixels // int(np.prod(arrays["label_free"].shape[1:]))))
    index = np.unique(np.linspace(0, count - 1, take).round().astype(int))
    x = np.asarray(arrays["label_free"].get_orthogonal_selection((index,)), np.float64).ravel()
    y = np.asarray(arrays["fluorescence"].get_orthogonal_selection((index,)), np.float64).ravel()
    if x.size > max_pixels:
        keep = np.random.default_rng(seed).choice(x.size, max_pixels, replace=False)
        x, y = x[keep], y[keep]
    design = np.stack([x, np.ones_like(x)], axis=1)
    (a, b), *_ = np.linalg.lstsq(design, y, rcond=None)
    return float(a), float(b)


def _virtual(folder: Path, kind: DatasetKind, source_hash: str) -> tuple[DatasetManifest, np.ndarray]:
    manifest = read_manifest(DatasetManifest, folder)
    if manifest.stage not in ("apply_stainer", "external_stainers") or manifest.input_hashes.get(kind) != source_hash:
        raise InputDataError(f"{folder}: not a virtual {kind} dataset of the given source "
                             f"(stage '{manifest.stage}', source {manifest.input_hashes.get(kind, 'none')[:12]})")
    return manifest, np.asarray(open_dataset(folder / DATASET_DIR).arrays("test")["fluorescence"][:])


def stain_report(config: StainConfig, kind: DatasetKind, datasets_dir: str | Path, virtual_dirs: dict[str, str | Path],
                 output_dir: str | Path) -> OutputManifest:
    """Score both stainers and the baselines on the test split; draw the panels; manifest last.

    Parameters
    ----------
    config
        The stain configuration (``apply.panels`` rows are drawn).
    kind
        Which dataset.
    datasets_dir
        The ``extract`` output (or one dataset folder).
    virtual_dirs
        ``{stainer: folder}``: the study's stainers by architecture (``pix2pixhd``, ``efficientunet``;
        ``apply_stainer`` outputs), external stainers by their names (``external_stainers`` outputs).
    output_dir
        Where ``panels.png``, ``quality_summary.csv`` and the manifest go.
    """
    source_manifest, dataset = read_dataset(dataset_folder(datasets_dir, kind), kind)
    test = dataset.arrays("test")
    label_free, real = np.asarray(test["label_free"][:]), np.asarray(test["fluorescence"][:])
    masks = np.asarray(test["mask"][:])
    inputs, targets = dataset_normalisers(dataset)
    a, b = linear_baseline(dataset)
    predictions: dict[str, np.ndarray] = {"identity": targets.invert(inputs.apply(label_free)),
                                          "linear": (a * label_free + b).astype(np.float32)}
    hashes: dict[str, str] = {kind: source_manifest.content_hash}
    for architecture, folder in virtual_dirs.items():
        virtual_manifest, predictions[architecture] = _virtual(Path(folder), kind, source_manifest.content_hash)
        hashes[architecture] = virtual_manifest.content_hash
    pixel_um = float(source_manifest.pixel_size_um)
    per_image = {name: image_quality(values, real, masks=masks) | {RESOLUTION: resolutions(values, real) * pixel_um}
                 for name, values in predictions.items()}
    summaries = {name: summarise(scores) for name, scores in per_image.items()}
    classes = np.asarray(test["label"][:]) if "label" in test else None
    comparisons = baseline_comparisons(per_image, list(virtual_dirs))
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = [{"method": name, "metric": metric, **stats} for name, summary in summaries.items()
            for metric, stats in summary.items()]
    pd.DataFrame(rows).to_csv(out / SUMMARY, index=False, lineterminator="\n")
    pd.DataFrame(comparisons).to_csv(out / COMPARISONS, index=False, lineterminator="\n")
    by_class = class_summaries(per_image, classes) if classes is not None else []
    distances = distance_rows(predictions, real, masks)
    pd.DataFrame(distances).to_csv(out / DISTANCES, index=False, lineterminator="\n")
    if by_class:
        pd.DataFrame(by_class).to_csv(out / BY_CLASS, index=False, lineterminator="\n")
    draw_panels(out / PANELS, label_free, {TITLES.get(n, n): predictions[n] for n in virtual_dirs}, real,
                rows=config.apply.panels, title=f"{kind}: test split")
    metrics = {f"{name}.{metric}.mean": stats["mean"] for name, summary in summaries.items()
               for metric, stats in summary.items()}
    metrics |= {f"{row['method']}.{row['class']}.{row['metric']}.mean": row["mean"] for row in by_class}
    for row in distances:
        key = f"{row['method']}.{row['distance']}_distance"
        metrics |= {key: row["estimate"], f"{key}.ci_low": row["ci_low"], f"{key}.ci_high": row["ci_high"]}
    metrics |= {"linear.a": a, "linear.b": b}
    for row in comparisons:
        key = f"{row['stainer']}.minus_{row['baseline']}.{row['metric']}"
        metrics |= {key: row["estimate"], f"{key}.ci_low": row["ci_low"], f"{key}.ci_high": row["ci_high"]}
    metrics |= {f"{name}.beats_baselines": float(beats_baselines(comparisons, name)) for name in virtual_dirs}
    recorded = config.apply.model_dump(mode="json") | {"training": config.training_for(kind).model_dump(mode="json")}
    manifest = OutputManifest(stage="stain_report", config=recorded,
                              config_hash=config_hash(config.apply), input_hashes=hashes,
                              counts={"test_items": int(len(real))},
                              paths={"report": [PANELS, SUMMARY, COMPARISONS, DISTANCES,
                                                *([BY_CLASS] if by_class else [])]},
                              metrics=metrics)
    return write_manifest(manifest, out)


def resolutions(predictions: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(N,) FRC resolution in px of each prediction against its target (:mod:`stainworth.stainers.resolution`)."""
    return np.array([frc_resolution(p, t) for p, t in zip(predictions, targets, strict=True)], dtype=np.float64)


def distance_rows(predictions: dict[str, np.ndarray], real: np.ndarray, masks: np.ndarray, *,
                  seed: int = 0) -> list[dict[str, Any]]:
    """Fréchet and kernel distances of every method's nucleus features to the real fluorescence's.

    At most :data:`MAX_NUCLEI` nuclei (a seeded draw, the same for every method); see
    :mod:`stainworth.stainers.feature_distance`.
    """
    reference = nucleus_features(real, masks)
    keep = np.arange(len(reference))
    if len(keep) > MAX_NUCLEI:
        keep = np.sort(np.random.default_rng(seed).choice(len(keep), MAX_NUCLEI, replace=False))
    if len(keep) < 3:
        return []
    rows = []
    for method, images in predictions.items():
        found = feature_distances(nucleus_features(images, masks)[keep], reference[keep], seed=seed)
        rows += [{**asdict(result), "method": method, "distance": name, "procedure": result.method}
                 for name, result in found.items()]
    return rows


def class_summaries(per_image: dict[str, dict[str, np.ndarray]], classes: np.ndarray) -> list[dict[str, Any]]:
    """Every method's summary of every metric over the test images of each class (``control``, ``treated``).

    A stainer that is good on average and poor on the class that carries the signal is what this
    split shows.
    """
    rows = []
    for label, name in CLASS_NAMES.items():
        chosen = classes == label
        if not chosen.any():
            continue
        for method, scores in per_image.items():
            for metric, stats in summarise({m: np.asarray(v)[chosen] for m, v in scores.items()}).items():
                rows.append({"method": method, "class": name, "metric": metric, **stats})
    return rows


def baseline_comparisons(per_image: dict[str, dict[str, np.ndarray]], stainers: list[str],
                         metrics: tuple[str, ...] = BASELINE_METRICS) -> list[dict[str, Any]]:
    """Paired per-image differences, stainer minus baseline, for every stainer, baseline and metric present."""
    rows = []
    for stainer in stainers:
        for baseline in BASELINES:
            for metric in metrics:
                if metric not in per_image[stainer]:
                    continue
                result = paired_difference(per_image[stainer][metric], per_image[baseline][metric])
                rows.append({"stainer": stainer, "baseline": baseline, "metric": metric, **asdict(result)})
    return rows


def beats_baselines(comparisons: list[dict[str, Any]], name: str) -> bool:
    """Whether every comparison of stainer ``name`` with a baseline has its interval above zero."""
    mine = [row for row in comparisons if row["stainer"] == name]
    return bool(mine) and all(row["ci_low"] > 0 for row in mine)


def draw_panels(path: Path, label_free: np.ndarray, virtual: dict[str, np.ndarray], real: np.ndarray, *, rows: int,
                title: str) -> Path:
    """One row per item: label-free, each virtual stain, real fluorescence (shared display range)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = min(rows, len(real))
    columns: list[tuple[str, np.ndarray]] = [("label-free", label_free), *virtual.items(), ("real", real)]
    figure, axes = plt.subplots(rows, len(columns), figsize=(2.2 * len(columns), 2.2 * rows), squeeze=False)
    for row in range(rows):
        low, high = np.percentile(real[row], [1.0, 99.8])
        for column, (name, images) in enumerate(columns):
            limits: dict[str, Any] = ({"vmin": float(low), "vmax": float(high)} if name != "label-free"
                                      else dict(zip(("vmin", "vmax"), np.percentile(images[row], [1.0, 99.8]),
                                                    strict=True)))
            axis = axes[row, column]
            axis.imshow(images[row], cmap="gray", interpolation="nearest", **limits)
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(name, fontsize=9)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
