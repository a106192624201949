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


def seg_capacity():
    rows = []
    for k, (architecture, capacity) in enumerate(SEG_CAPACITY.items()):
        for m, modality in enumerate(MODALITIES):
            row = {"task": "segmentation", "architecture": architecture, "modality": modality, "capacity": capacity,
                   "n": 30}
            for j, metric in enumerate(("precision", "recall", "dice")):
                value = 0.40 + 0.20 * k + 0.05 * m + 0.01 * j
                row |= {metric: value, f"{metric}_ci_low": value - 0.03, f"{metric}_ci_high": value + 0.04,
                        f"{metric}_n": 30}
            rows.append(row | {"run": f"segmentation-{architecture}-{modality}-all-s0 (abcdef{k}{m})"})
    table = pd.DataFrame(rows)
    table.loc[1, ["dice_ci_low", "dice_ci_high"]] = np.nan  # unet1 virtual_effunet: undefined interval
    return table


def seg_learnable():
    rows = []
    for k, size in enumerate(SIZES):
        for m, modality in enumerate(MODALITIES):
            row = {"task": "segmentation", "architecture": "unet3", "train_size": size, "modality": modality,
                   "capacity": 60305, "n_subsets": 3}
            for metric in ("precision", "recall", "dice"):
                row |= {f"{metric}_mean": 0.30 + 0.3 * k + 0.02 * m, f"{metric}_std": 0.01 + 0.01 * m}
            rows.append(row | {"runs": f"a-{size}-{modality}-s0;a-{size}-{modality}-s1;a-{size}-{modality}-s2"})
    return pd.DataFrame(rows)


def cls_capacity():
    rows = []
    for k, (architecture, capacity) in enumerate(CLS_CAPACITY.items()):
        for m, modality in enumerate(MODALITIES):
            auc = 0.60 + 0.15 * k + 0.04 * m
            rows.append({"task": "classification", "architecture": architecture, "modality": modality,
                         "capacity": capacity, "n": 200, "n_pos": 100, "n_neg": 100, "auc": auc, "auc_se": 0.03,
                         "auc_ci_low": auc - 0.06, "auc_ci_high": auc + 0.05, "binormal_auc": auc + 0.01,
                         "binormal_auc_se": 0.03, "binormal_auc_ci_low": auc - 0.05,
                         "binormal_auc_ci_high": auc + 0.06, "binormal_degenerate": False, "binormal_note": "",
                         "run": f"classification-{architecture}-{modality}-all-s0 (fedcba{k}{m})"})
    return pd.DataFrame(rows)


def cls_learnable():
    rows = []
    for k, size in enumerate(SIZES):
        for m, modality in enumerate(MODALITIES):
            auc = 0.55 + 0.2 * k + 0.03 * m
            rows.append({"task": "classification", "architecture": "resnet18", "train_size": size,
                         "modality": modality, "capacity": 11170753, "n_subsets": 3, "auc_mean": auc,
                         "auc_std": 0.02, "binormal_auc_mean": auc, "binormal_auc_std": 0.025,
                         "n_binormal_degenerate": 0, "runs": f"r-{size}-{modality}-s0;r-{size}-{modality}-s1"})
    return pd.DataFrame(rows)


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


def units(task):
    capacities = SEG_CAPACITY if task == "segmentation" else CLS_CAPACITY
    rows = []
    for architecture, capacity in capacities.items():
        for modality in MODALITIES:
            rows.append({"run": f"{task}-{architecture}-{modality}-all-s0 (0123456789ab)",
                         "architecture": architecture, "modality": modality, "train_size": None, "subset": 0,
                         "capacity": capacity, "train_items": 500, "test_items": 120, "epochs_run": 5,
                         "best_epoch": 3, "stopped_early": architecture != "resnet18",
                         "weights": "none (trained from scratch)", "study_imagenet": architecture == "resnet18"})
    return pd.DataFrame(rows)


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
            ("segmentation", "units"): units("segmentation"),
            ("classification", "capacity"): cls_capacity(), ("classification", "learnable"): cls_learnable(),
            ("classification", "embeddings"): embeddings(), ("classification", "hotelling"): hotelling(),
            ("classification", "units"): units("classification")}


def png(seed):
    figure = Figure(figsize=(1, 1))
    figure.subplots().imshow(np.random.default_rng(seed).random((8, 8)))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


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
    (folder / "verdict.json").write_text(json.dumps({"metric": "dice", "sentences": verdict}))
    (folder / "verdict.md").write_text("".join(f"- {line}\n" for line in verdict))
    paths = {"tables": [f"{name}.csv" for name in tables if name in ("capacity", "learnable")],
             "verdict": ["verdict.json", "verdict.md"]}
    paths |= {name: [f"{name}.csv"] for name in tables if name not in ("capacity", "learnable")}
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


def write_stain_report(folder, kind, summary=None):
    """A stain_report output of dataset ``kind``."""
    folder.mkdir(parents=True, exist_ok=True)
    (summary if summary is not None else quality_summary()).to_csv(folder / "quality_summary.csv", index=False)
    (folder / "panels.png").write_bytes(png(7))
    manifest = OutputManifest(stage="stain_report", config={"panels": 6}, config_hash="2" * 64,
                              input_hashes={kind: "3" * 64, "pix2pixhd": "4" * 64, "efficientunet": "5" * 64},
                              counts={"test_items": 12}, paths={"report": ["panels.png", "quality_summary.csv"]},
                              metrics={"efficientunet.beats_baselines": 1.0, "pix2pixhd.beats_baselines": 0.0})
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
        cls_learnable=cls_learnable, embeddings=embeddings, hotelling=hotelling, units=units,
        quality_summary=quality_summary, write_evaluation=write_evaluation, write_stain_report=write_stain_report,
        SEG_CAPACITY=SEG_CAPACITY, CLS_CAPACITY=CLS_CAPACITY, SIZES=SIZES, MODALITIES=MODALITIES,
        SMALL_TASKS=SMALL_TASKS)
