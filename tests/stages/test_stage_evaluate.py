"""evaluate on units trained by train_task on the phantom datasets: tables, verdict, analyses, refusals."""

import json
import shutil

import pandas as pd
import pytest

from stainworth.contracts.manifest import read_manifest
from stainworth.contracts.task import EvaluationManifest, TasksConfig, TaskUnit
from stainworth.errors import InputDataError
from stainworth.stages.evaluate import evaluate_stage
from stainworth.stages.task import train_task_stage

MODALITIES = ("label_free", "virtual_effunet", "fluorescence")
CONFIG = TasksConfig.model_validate({
    "segmentation": {"architectures": ["unet1", "unet2"], "learnable": {"architecture": "unet1", "sizes": [6, 8],
                     "subsets": 2}, "training": {"batch_size": 4, "max_epochs": 1}},
    "classification": {"architectures": ["cnn1", "cnn3"],
                       "learnable": {"architecture": "cnn1", "sizes": [6, 8], "subsets": 2},
                       "training": {"batch_size": 4, "max_epochs": 1}},
})


@pytest.fixture(scope="module")
def trained(phantom_datasets, tmp_path_factory):
    """Units of both sweeps and both tasks, and the stand-in virtual datasets they read."""
    root = tmp_path_factory.mktemp("units")
    virtual = {"virtual_effunet": root / "virtual"}
    shutil.copytree(phantom_datasets, virtual["virtual_effunet"])
    units = {"segmentation": [], "classification": []}
    for task, sweep in (("segmentation", CONFIG.segmentation), ("classification", CONFIG.classification)):
        plan = [(a, None, 0) for a in sweep.architectures]
        plan += [(sweep.learnable.architecture, size, k) for size in sweep.learnable.sizes
                 for k in range(sweep.learnable.subsets)]
        for architecture, size, subset in plan:
            for modality in MODALITIES:
                unit = TaskUnit(task=task, architecture=architecture, modality=modality, train_size=size,
                                subset=subset)
                out = root / unit.name
                train_task_stage(CONFIG, unit, phantom_datasets, out, virtual_dirs=virtual,
                                 store_uri=f"file://{root}/store")
                units[task].append(out)
    return units, virtual


def test_classification_tables_verdict_embeddings_and_hotelling(trained, phantom_datasets, tmp_path):
    units, virtual = trained
    manifest = evaluate_stage(CONFIG, "classification", units["classification"], phantom_datasets, tmp_path,
                              virtual_dirs=virtual, n_boot=200)
    capacity = pd.read_csv(tmp_path / "capacity.csv")
    assert len(capacity) == 2 * 3 * 2  # per architecture and modality: the combined row, then the one replicate
    assert {"auc", "auc_ci_low", "auc_ci_high", "auc_df", "binormal_auc", "replicate", "replicates", "run"} <= \
        set(capacity)
    assert capacity["replicate"].isna().sum() == 6 and (capacity["replicates"].dropna() == 1).all()
    learnable = pd.read_csv(tmp_path / "learnable.csv")
    assert len(learnable) == 2 * 3 and set(learnable["n_subsets"]) == {2}
    comparisons = pd.read_csv(tmp_path / "comparisons.csv")
    assert set(comparisons["modality"]) == {"virtual_effunet", "fluorescence"} and len(comparisons) == 2 * (2 + 2)
    assert comparisons["se"].notna().all() and comparisons["p_adjusted"].notna().all()
    per_training = pd.read_csv(tmp_path / "comparisons_replicates.csv")
    assert len(per_training) == 2 * (2 + 4) and "comparisons_replicates.csv" in manifest.paths["tables"]
    embeddings = pd.read_csv(tmp_path / "embeddings.csv")
    assert list(embeddings["level"].unique()) == ["low", "high"] and len(embeddings) == 2 * 3
    assert embeddings["cosine_distance"].between(0, 1).all()
    hotelling = pd.read_csv(tmp_path / "hotelling.csv")
    assert list(hotelling["modality"]) == list(MODALITIES) and hotelling["auc"].between(0, 1).all()
    distances = pd.read_csv(tmp_path / "embedding_distances.csv")
    assert manifest.paths["embedding_distances"] == ["embedding_distances.csv"]
    assert list(distances["level"].unique()) == ["low", "high"] and set(distances["distance"]) == {"frechet", "kernel"}
    assert list(distances["compared"].unique()) == ["virtual_effunet", "identity (label-free)"]
    copied = distances[distances["compared"] == "virtual_effunet"]  # the stand-in stain is the real fluorescence
    assert (copied["estimate"].abs() < 1e-9).all()
    identity = distances[distances["compared"] == "identity (label-free)"]
    assert (identity["estimate"] > 1e-3).all() and (identity["ci_low"] <= identity["estimate"]).all()
    assert manifest.metrics["embedding.cnn3.identity.frechet"] == pytest.approx(
        identity.loc[(identity["architecture"] == "cnn3") & (identity["distance"] == "frechet"), "estimate"].iloc[0],
        rel=1e-5)
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert verdict["metric"] == "auc" and len(verdict["sentences"]) == 3  # capacity, largest capacity, size
    assert "Holm" in verdict["family"] and verdict["details"]["virtual_effunet.capacity"]["steps"]
    assert any("cnn3" in sentence and "significant" in sentence for sentence in verdict["sentences"])
    assert read_manifest(EvaluationManifest, tmp_path).verdict == manifest.verdict == verdict["sentences"]
    assert manifest.counts == {"units": 18, "capacity_units": 6, "learnable_units": 12}
    assert "cnn1.label_free.auc" in manifest.metrics
    trained_units = pd.read_csv(tmp_path / "units.csv")
    assert len(trained_units) == 18 and manifest.paths["units"] == ["units.csv"]
    assert set(trained_units["weights"]) == {"none (trained from scratch)"}
    assert not trained_units["study_imagenet"].any()
    full = trained_units[trained_units["train_size"].isna()]
    assert list(full["run"]) == list(capacity.loc[capacity["replicate"].notna(), "run"])
    assert set(full["train_items"]) == {20}
    assert set(trained_units.loc[trained_units["train_size"] == 6, "train_items"]) == {6}
    assert (trained_units["epochs_run"] == 1).all() and (trained_units["best_epoch"] == 1).all()


def test_segmentation_tables_feature_maps_and_panels(trained, phantom_datasets, tmp_path):
    units, virtual = trained
    manifest = evaluate_stage(CONFIG, "segmentation", units["segmentation"], phantom_datasets, tmp_path,
                              virtual_dirs=virtual, n_boot=200)
    capacity = pd.read_csv(tmp_path / "capacity.csv")
    assert len(capacity) == 2 * 3 * 2 and {"dice", "dice_ci_low", "dice_se", "precision", "recall"} <= set(capacity)
    assert len(manifest.paths["feature_maps"]) == 2 * 3 * 2  # unet1 and unet2 (low = medium), npy + png
    assert all((tmp_path / path).stat().st_size > 0 for path in manifest.paths["feature_maps"])
    assert sorted(manifest.paths["panels"]) == sorted(
        [f"panels/capacity-{m}.png" for m in MODALITIES] + [f"panels/sizes-{m}.png" for m in MODALITIES])
    assert (tmp_path / "panels" / "capacity-label_free.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert verdict["metric"] == "dice"
    assert {"ap50", "ap", "ap_ci_low", "count_error", "count_error_ci_high"} <= set(capacity)
    comparisons = pd.read_csv(tmp_path / "comparisons.csv")
    assert set(comparisons["metric"]) == {"dice", "ap"}
    assert set(comparisons["family"]) >= {"virtual_effunet dice capacity", "virtual_effunet ap capacity",
                                          "virtual_effunet ap train_size"}
    assert "virtual_effunet.capacity.ap" in verdict["details"]
    assert {"unet1.label_free.dice", "unet1.label_free.ap"} <= set(manifest.metrics)  # the dashboard's
    assert any("instance AP over IoU 0.50:0.95" in sentence for sentence in verdict["sentences"])


def test_units_of_another_task_or_none_are_refused(trained, phantom_datasets, tmp_path):
    units, virtual = trained
    with pytest.raises(InputDataError, match="the units are classification units; expected segmentation"):
        evaluate_stage(CONFIG, "segmentation", units["classification"], phantom_datasets, tmp_path / "a")
    with pytest.raises(InputDataError, match="no trained units given"):
        evaluate_stage(CONFIG, "segmentation", [], phantom_datasets, tmp_path / "b")
    assert not (tmp_path / "a" / "manifest.json").exists()


def test_an_unfinished_unit_is_refused(trained, phantom_datasets, tmp_path):
    units, _ = trained
    broken = tmp_path / "broken"
    shutil.copytree(units["classification"][0], broken)
    (broken / "manifest.json").unlink()
    with pytest.raises(InputDataError, match="manifest"):
        evaluate_stage(CONFIG, "classification", [broken], phantom_datasets, tmp_path / "out")
