"""Hand-made evaluate and stain_report tables, and folders holding them with real manifests."""

import io
import json

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from stainworth.contracts.base import config_hash
from stainworth.contracts.manifest import OutputManifest, write_manifest
from stainworth.contracts.task import EvaluationManifest, TasksConfig

MODALITIES = ("label_free", "virtual_effunet", "virtual_pix2pixhd", "fluorescence")
SEG_CAPACITY = {"unet1": 1233, "unet3": 60305}
CLS_CAPACITY = {"cnn1": 417, "resnet18": 11170753}
SIZES = (10, 100)
REPLICATES = 3
"""Replicates of every capacity-sweep network."""
SUBSETS, SUBSET_REPLICATES = 3, 2
"""Training subsets per size of the learnable sweep, and replicates per subset."""
SPREAD = (-0.02, 0.0, 0.02)
"""Offsets of the replicates from their summary row's value (their mean is the summary value)."""
SUFFIXES = ("_se", "_df", "_training_sd", "_se_test")


def _run(task, architecture, modality, size, subset, replicate):
    return f"{task}-{architecture}-{modality}-{size}-s{subset}-r{replicate} (abcdef{subset}{replicate})"


def _capacity(task, capacities, metrics, value_of, extra):
    """Summary rows (replicate empty) followed by their replicate rows, per (architecture, modality)."""
    rows = []
    for k, (architecture, capacity) in enumerate(capacities.items()):
        for m, modality in enumerate(MODALITIES):
            keys = {"task": task, "architecture": architecture, "modality": modality, "capacity": capacity} | extra
            runs = [_run(task, architecture, modality, "all", 0, r) for r in range(REPLICATES)]
            summary = keys | {"replicate": None, "replicates": REPLICATES, "note": "", "run": ";".join(runs)}
            singles = [keys | {"replicate": r, "replicates": None, "note": "", "run": runs[r]}
                       for r in range(REPLICATES)]
            for j, metric in enumerate(metrics):
                value = value_of(k, m, j)
                summary |= {metric: value, f"{metric}_ci_low": value - 0.03, f"{metric}_ci_high": value + 0.04,
                            f"{metric}_se": 0.017, f"{metric}_df": 2.0, f"{metric}_training_sd": 0.02,
                            f"{metric}_se_test": 0.01}
                for r, single in enumerate(singles):
                    own = value + SPREAD[r]
                    single |= {metric: own, f"{metric}_ci_low": own - 0.02, f"{metric}_ci_high": own + 0.02,
                               f"{metric}_se": 0.01}
            rows += [summary, *singles]
    return pd.DataFrame(rows).astype({"replicate": "Int64", "replicates": "Int64"})


def seg_capacity():
    table = _capacity("segmentation", SEG_CAPACITY, ("precision", "recall", "dice"),
                      lambda k, m, j: 0.40 + 0.20 * k + 0.05 * m + 0.01 * j, {"n": 30})
    unet1 = (table["architecture"] == "unet1") & (table["modality"] == "virtual_effunet")
    undefined = unet1 & table["replicate"].isna()
    table.loc[undefined, ["dice_ci_low", "dice_ci_high"]] = np.nan  # unet1 virtual_effunet: undefined interval
    return table


def cls_capacity():
    table = _capacity("classification", CLS_CAPACITY, ("auc", "binormal_auc"),
                      lambda k, m, j: 0.60 + 0.15 * k + 0.04 * m + 0.01 * j, {"n": 200, "n_pos": 100, "n_neg": 100})
    table["binormal_auc_ci_low"] -= 0.01  # binormal: [auc - 0.05, auc + 0.06] on the summary rows
    table["binormal_auc_ci_high"] += 0.01
    return table.assign(binormal_degenerate=False, binormal_note="")


def _learnable(task, architecture, capacity, metrics, value_of, extra=None):
    rows = []
    for k, size in enumerate(SIZES):
        for m, modality in enumerate(MODALITIES):
            row = {"task": task, "architecture": architecture, "train_size": size, "modality": modality,
                   "capacity": capacity, "n_subsets": SUBSETS, "replicates": SUBSET_REPLICATES}
            for j, metric in enumerate(metrics):
                mean, std = value_of(k, m, j)
                row |= {f"{metric}_mean": mean, f"{metric}_std": std, f"{metric}_se": 0.02,
                        f"{metric}_ci_low": mean - 0.05, f"{metric}_ci_high": mean + 0.06, f"{metric}_df": 2.0}
            runs = [_run(task, architecture, modality, size, s, r) for s in range(SUBSETS)
                    for r in range(SUBSET_REPLICATES)]
            rows.append(row | (extra or {}) | {"note": "", "runs": ";".join(runs)})
    return pd.DataFrame(rows)


def seg_learnable():
    return _learnable("segmentation", "unet3", 60305, ("precision", "recall", "dice"),
                      lambda k, m, j: (0.30 + 0.3 * k + 0.02 * m, 0.01 + 0.01 * m))


def cls_learnable():
    return _learnable("classification", "resnet18", 11170753, ("auc", "binormal_auc"),
                      lambda k, m, j: (0.55 + 0.2 * k + 0.03 * m, 0.02 + 0.005 * j), {"n_binormal_degenerate": 0})


def comparisons(task):
    """Combined comparisons of every stain with label-free along both sweeps."""
    metric = "auc" if task == "classification" else "dice"
    capacities = CLS_CAPACITY if task == "classification" else SEG_CAPACITY
    learnable = ("resnet18", CLS_CAPACITY["resnet18"]) if task == "classification" else ("unet3", SEG_CAPACITY["unet3"])
    steps = [(name, None, size) for name, size in capacities.items()] + [(learnable[0], n, learnable[1]) for n in SIZES]
    rows = []
    for modality in MODALITIES[1:]:
        for k, (architecture, train_size, capacity) in enumerate(steps):
            difference = 0.08 - 0.04 * k
            axis = "capacity" if train_size is None else "train_size"
            runs = ";".join(f"{_run(task, architecture, modality, train_size or 'all', 0, r)} vs "
                            f"{_run(task, architecture, 'label_free', train_size or 'all', 0, r)}" for r in range(3))
            rows.append({"task": task, "architecture": architecture, "train_size": train_size, "capacity": capacity,
                         "modality": modality, "reference": "label_free", "metric": metric, "value": 0.7 + difference,
                         "reference_value": 0.7, "difference": difference, "se": 0.02, "ci_low": difference - 0.05,
                         "ci_high": difference + 0.05, "df": 2.4, "p_value": 0.013 * (k + 1),
                         "p_adjusted": 0.026 * (k + 1), "family": f"{modality} {metric} {axis}",
                         "test": "Obuchowski-Rockette-Hillis (DeLong covariance)", "n": 200, "replicates": 3,
                         "training_sd": 0.02, "se_test": 0.01, "note": "", "runs": runs})
    table = pd.DataFrame(rows)
    return table.astype({"train_size": "Int64"})


def embeddings():
    rows = []
    for k, (level, architecture, capacity) in enumerate((("low", "cnn1", 417), ("high", "resnet18", 11170753))):
        for m, modality in enumerate(MODALITIES):
            distance = 0.010 + 0.005 * k + 0.002 * m
            rows.append({"level": level, "architecture": architecture, "capacity": capacity, "modality": modality,
                         "cosine_distance": distance, "ci_low": distance - 0.002, "ci_high": distance + 0.003,
                         "n_control": 100, "n_treated": 100, "run": f"classification-{architecture}-{modality}"})
    return pd.DataFrame(rows)


def hotelling():
    return pd.DataFrame([{"modality": modality, "auc": 0.70 + 0.05 * m, "se": 0.03, "ci_low": 0.64 + 0.05 * m,
                          "ci_high": 0.76 + 0.05 * m, "channels": 10, "width_px": 8.0, "training_snr": 1.5}
                         for m, modality in enumerate(MODALITIES)])


def embedding_distances():
    rows = []
    for level, architecture, capacity in (("low", "cnn1", CLS_CAPACITY["cnn1"]), ("high", "resnet18",
                                                                                  CLS_CAPACITY["resnet18"])):
        for k, compared in enumerate(("virtual_effunet", "virtual_pix2pixhd", "identity (label-free)")):
            for distance, scale in (("frechet", 1.0), ("kernel", 10.0)):
                estimate = scale * (2.0 + k)
                rows.append({"level": level, "architecture": architecture, "capacity": capacity, "compared": compared,
                             "distance": distance, "estimate": estimate, "ci_low": 0.8 * estimate,
                             "ci_high": 1.3 * estimate, "n": 200, "dimensions": 20,
                             "run": f"classification-{architecture}-fluorescence"})
    return pd.DataFrame(rows)


def units(task):
    """One row per training: the capacity sweep's replicates, then the learnable sweep's subsets x replicates.

    resnet18 (classification) runs to its epoch cap; everything else stops early.
    """
    capacities = SEG_CAPACITY if task == "segmentation" else CLS_CAPACITY
    learnable = "unet3" if task == "segmentation" else "resnet18"
    metric = "dice" if task == "segmentation" else "auc"
    plan = [(architecture, None, 0, r) for architecture in capacities for r in range(REPLICATES)]
    plan += [(learnable, size, s, r) for size in SIZES for s in range(SUBSETS) for r in range(SUBSET_REPLICATES)]
    rows = []
    for architecture, size, subset, replicate in plan:
        for m, modality in enumerate(MODALITIES):
            capped = architecture == "resnet18"
            rows.append({"run": _run(task, architecture, modality, size or "all", subset, replicate),
                         "architecture": architecture, "modality": modality, "train_size": size, "subset": subset,
                         "replicate": replicate, "capacity": capacities[architecture],
                         "train_items": 500 if size is None else size, "test_items": 120, "epochs_run": 5,
                         "best_epoch": 3, "stopped_early": not capped, "ended": "epoch_cap" if capped else "early_stop",
                         "attempts": 1, "degenerate": "", "init_seed": 1000 + 10 * subset + replicate,
                         f"test_{metric}": 0.5 + 0.05 * m + 0.01 * replicate + (0 if size is None else size / 1000),
                         "weights": "none (trained from scratch)", "study_imagenet": architecture == "resnet18"})
    return pd.DataFrame(rows).astype({"train_size": "Int64"})


def quality_summary():
    rows = []
    for k, method in enumerate(("identity", "linear", "pix2pixhd", "efficientunet")):
        for j, metric in enumerate(("ssim", "psnr", "pearson", "mse", "nrmse", "pearson_nucleus")):
            mean = 0.5 + 0.1 * k + 0.01 * j if metric != "psnr" else 20.0 + k
            rows.append({"method": method, "metric": metric, "mean": mean, "std": 0.05, "median": mean,
                         "p5": mean - 0.1, "p95": mean + 0.1, "n": 12.0})
    return pd.DataFrame(rows)


@pytest.fixture
def tables():
    """Every table by (task, name)."""
    return {("segmentation", "capacity"): seg_capacity(), ("segmentation", "learnable"): seg_learnable(),
            ("segmentation", "comparisons"): comparisons("segmentation"),
            ("segmentation", "units"): units("segmentation"),
            ("classification", "capacity"): cls_capacity(), ("classification", "learnable"): cls_learnable(),
            ("classification", "comparisons"): comparisons("classification"),
            ("classification", "embeddings"): embeddings(), ("classification", "hotelling"): hotelling(),
            ("classification", "units"): units("classification")}


def png(seed):
    figure = Figure(figsize=(1, 1))
    figure.subplots().imshow(np.random.default_rng(seed).random((8, 8)))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


FAMILY = "Holm's correction within each family of one modality's comparisons along one sweep axis for one metric"
SWEEP_TABLES = ("capacity", "learnable", "comparisons", "comparisons_replicates")
"""Tables evaluate lists under ``tables`` in its manifest."""
SMALL_TASKS = TasksConfig.model_validate({
    "segmentation": {"architectures": ["unet1", "unet3"], "learnable": {"architecture": "unet3", "sizes": [10, 100]},
                     "training": {"batch_size": 4, "max_epochs": 5}},
    "classification": {"architectures": ["cnn1", "resnet18"],
                       "learnable": {"architecture": "resnet18", "sizes": [10, 100]},
                       "training": {"batch_size": 16, "max_epochs": 5}},
})


def write_evaluation(folder, task, tables, *, verdict=None, config=SMALL_TASKS, images=True):
    """An evaluate output: the given tables, verdict files, (segmentation) images, the manifest last."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        table.to_csv(folder / f"{name}.csv", index=False)
    verdict = verdict or [f"{task}: label-free reaches virtual_effunet from the second network on."]
    (folder / "verdict.json").write_text(json.dumps({"metric": "dice", "sentences": verdict, "details": {},
                                                     "family": FAMILY}))
    (folder / "verdict.md").write_text("".join(f"- {line}\n" for line in verdict))
    paths = {"tables": [f"{name}.csv" for name in tables if name in SWEEP_TABLES],
             "verdict": ["verdict.json", "verdict.md"]}
    paths |= {name: [f"{name}.csv"] for name in tables if name not in SWEEP_TABLES}
    if task == "segmentation" and images:
        (folder / "feature_maps").mkdir(exist_ok=True)
        (folder / "panels").mkdir(exist_ok=True)
        paths["feature_maps"], paths["panels"] = [], []
        for k, (architecture, modality) in enumerate((("unet1", "label_free"), ("unet3", "label_free"),
                                                      ("unet3", "fluorescence"))):
            (folder / "feature_maps" / f"{architecture}-{modality}.png").write_bytes(png(k))
            paths["feature_maps"].append(f"feature_maps/{architecture}-{modality}.png")
        for name in ("sizes-label_free", "capacity-fluorescence", "capacity-label_free"):
            (folder / "panels" / f"{name}.png").write_bytes(png(len(name)))
            paths["panels"].append(f"panels/{name}.png")
    manifest = EvaluationManifest(stage="evaluate", config=config.model_dump(mode="json"),
                                  config_hash=config_hash(config), input_hashes={"unit-a": "1" * 64},
                                  paths=paths, metrics={"unet1.label_free.dice": 0.4}, task=task, verdict=verdict)
    write_manifest(manifest, folder)
    return folder


def baseline_comparisons():
    """Manifest metrics of stain_report's paired comparisons: the EfficientUNet above both baselines on
    every metric; Pix2pixHD above them but below the identity on Pearson correlation and tied with
    the linear map inside nuclei."""
    metrics = {}
    for stainer in ("efficientunet", "pix2pixhd"):
        for baseline in ("identity", "linear"):
            for metric in ("ssim", "pearson", "pearson_nucleus"):
                estimate, low, high = 0.1, 0.05, 0.15
                if stainer == "pix2pixhd" and baseline == "identity" and metric == "pearson":
                    estimate, low, high = -0.04, -0.06, -0.02
                if stainer == "pix2pixhd" and baseline == "linear" and metric == "pearson_nucleus":
                    estimate, low, high = 0.01, -0.02, 0.04
                key = f"{stainer}.minus_{baseline}.{metric}"
                metrics |= {key: estimate, f"{key}.ci_low": low, f"{key}.ci_high": high}
    return metrics


def write_stain_report(folder, kind, summary=None, training=None):
    """A stain_report output of dataset ``kind`` (``training``: the recorded stainer settings)."""
    folder.mkdir(parents=True, exist_ok=True)
    (summary if summary is not None else quality_summary()).to_csv(folder / "quality_summary.csv", index=False)
    (folder / "panels.png").write_bytes(png(7))
    manifest = OutputManifest(stage="stain_report",
                              config={"panels": 6} | ({} if training is None else {"training": training}),
                              config_hash="2" * 64,
                              input_hashes={kind: "3" * 64, "pix2pixhd": "4" * 64, "efficientunet": "5" * 64},
                              counts={"test_items": 12}, paths={"report": ["panels.png", "quality_summary.csv"]},
                              metrics={"efficientunet.beats_baselines": 1.0, "pix2pixhd.beats_baselines": 0.0,
                                       **baseline_comparisons()})
    write_manifest(manifest, folder)
    return folder


@pytest.fixture
def report_folders(tables, tmp_path):
    """Evaluations of both tasks and stain reports of both datasets, written under tmp_path."""
    evaluations = {
        task: write_evaluation(tmp_path / f"evaluate-{task}", task,
                               {name: table for (t, name), table in tables.items() if t == task})
        for task in ("segmentation", "classification")}
    stain = {kind: write_stain_report(tmp_path / f"stain-{kind}", kind) for kind in ("segmentation", "classification")}
    return evaluations, stain


@pytest.fixture(scope="session")
def data():
    """The table builders, their constants and the folder writers of this module."""
    from types import SimpleNamespace

    return SimpleNamespace(
        seg_capacity=seg_capacity, seg_learnable=seg_learnable, cls_capacity=cls_capacity,
        cls_learnable=cls_learnable, comparisons=comparisons, embeddings=embeddings, hotelling=hotelling, units=units,
        embedding_distances=embedding_distances,
        quality_summary=quality_summary, write_evaluation=write_evaluation, write_stain_report=write_stain_report,
        SEG_CAPACITY=SEG_CAPACITY, CLS_CAPACITY=CLS_CAPACITY, SIZES=SIZES, MODALITIES=MODALITIES,
        REPLICATES=REPLICATES, SUBSETS=SUBSETS, SUBSET_REPLICATES=SUBSET_REPLICATES, SPREAD=SPREAD, FAMILY=FAMILY,
        SMALL_TASKS=SMALL_TASKS)
