"""train_stainer and apply_stainer on the phantom datasets: manifests, store, virtual datasets, resume."""

import shutil

import numpy as np
import pandas as pd
import pytest

from stainworth.contracts.fields import DatasetManifest
from stainworth.contracts.manifest import read_manifest
from stainworth.contracts.stainer import StainConfig, StainerManifest
from stainworth.datasets import open_dataset
from stainworth.errors import ConfigError, InputDataError
from stainworth.stages.stain import apply_stainer_stage, train_stainer_stage
from stainworth.store import open_store

TINY_GAN = {"ngf": 8, "n_blocks": 1, "n_blocks_local": 1, "ndf": 8, "num_d": 2, "n_downsampling": 2}


def config(epochs=1):
    return StainConfig.model_validate({"training": {"batch_size": 8, "max_epochs": epochs, "pix2pixhd": TINY_GAN},
                                       "apply": {"batch_size": 8}})


@pytest.fixture(scope="module")
def trained(phantom_datasets, tmp_path_factory):
    root = tmp_path_factory.mktemp("stain")
    store = f"file://{root}/store"
    outputs = {}
    for kind, architecture in (("segmentation", "efficientunet"), ("classification", "pix2pixhd")):
        out = root / f"{kind}-{architecture}"
        train_stainer_stage(config(), kind, architecture, phantom_datasets, out, store_uri=store)
        outputs[kind] = out
    yield outputs, store
    shutil.rmtree(root, ignore_errors=True)


def test_a_stainer_is_written_described_and_published(trained, phantom_datasets):
    outputs, store = trained
    manifest = read_manifest(StainerManifest, outputs["segmentation"])
    source = read_manifest(DatasetManifest, phantom_datasets / "segmentation")
    assert manifest.architecture == "efficientunet" and manifest.dataset_kind == "segmentation"
    assert manifest.input_hashes == {"segmentation": source.content_hash} and manifest.alpha == 0.9
    assert manifest.counts["epochs_run"] == 1 and manifest.counts["trainable_parameters"] > 1_000_000
    assert 0.0 < manifest.metrics["val_loss"] and -1.0 <= manifest.metrics["val_ssim"] <= 1.0
    keys = open_store(store).list("stainers/")
    assert f"stainers/segmentation-efficientunet-{manifest.content_hash[:12]}/manifest.json" in keys
    assert any(key.startswith("stainers/checkpoints/segmentation-efficientunet-") and key.endswith("checkpoint.pt")
               for key in keys)


def test_a_retried_task_resumes_from_the_checkpoints_in_the_store(trained, phantom_datasets, tmp_path, capsys):
    _, store = trained
    manifest = train_stainer_stage(config(epochs=2), "classification", "pix2pixhd", phantom_datasets,
                                   tmp_path / "again", store_uri=store)
    out = capsys.readouterr().out
    assert "checkpoints of an earlier attempt restored" in out and "resuming after epoch 1" in out
    assert "train_stainer epoch 1/2" not in out and "train_stainer epoch 2/2" in out
    assert manifest.counts["epochs_run"] == 2


def test_the_virtual_dataset_pairs_item_for_item_with_its_source(trained, phantom_datasets, tmp_path):
    outputs, _ = trained
    manifest = apply_stainer_stage(config(), "classification", outputs["classification"], phantom_datasets,
                                   tmp_path / "virtual")
    virtual = open_dataset(tmp_path / "virtual" / "dataset.zarr")
    source = open_dataset(phantom_datasets / "classification" / "dataset.zarr")
    assert virtual.counts == source.counts and virtual.attrs["extra"]["virtual"] is True
    for split in source.splits:
        for name in ("label_free", "mask", "positions", "source", "label"):
            assert np.array_equal(virtual.arrays(split)[name][:], source.arrays(split)[name][:]), (split, name)
        assert not np.array_equal(virtual.arrays(split)["fluorescence"][:], source.arrays(split)["fluorescence"][:])
    table = pd.read_csv(tmp_path / "virtual" / "quality_test.csv")
    assert len(table) == source.counts["test"] and set(table.columns) >= {"ssim", "psnr", "pearson", "mse", "nrmse"}
    assert manifest.stage == "apply_stainer" and manifest.metrics["test.ssim.mean"] == pytest.approx(
        table["ssim"].mean(), rel=1e-6)


def test_apply_averages_over_the_training_symmetries_unless_told_not_to(trained, phantom_datasets, tmp_path):
    from stainworth.stainers.artifact import load_stainer

    outputs, _ = trained
    one_pass = config().model_copy(update={"apply": config().apply.model_copy(update={"average_symmetries": False})})
    stained = {}
    for name, settings in (("averaged", config()), ("one_pass", one_pass)):
        apply_stainer_stage(settings, "segmentation", outputs["segmentation"], phantom_datasets, tmp_path / name)
        stained[name] = open_dataset(tmp_path / name / "dataset.zarr").arrays("test")["fluorescence"][:]
    stainer = load_stainer(outputs["segmentation"] / "stainer")
    label_free = open_dataset(phantom_datasets / "segmentation" / "dataset.zarr").arrays("test")["label_free"][:]
    np.testing.assert_allclose(stained["one_pass"], stainer.predict(label_free), rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(stained["averaged"], stainer.averaging_its_training_symmetries().predict(label_free),
                               rtol=1e-5, atol=1e-3)
    assert not np.allclose(stained["averaged"], stained["one_pass"], rtol=1e-3)


def test_a_dataset_of_the_wrong_kind_is_refused(trained, phantom_datasets, tmp_path):
    outputs, _ = trained
    with pytest.raises(InputDataError, match="a classification dataset; expected segmentation"):
        apply_stainer_stage(config(), "segmentation", outputs["segmentation"], phantom_datasets / "classification",
                            tmp_path / "virtual")
    assert not (tmp_path / "virtual" / "manifest.json").exists()


def test_a_stainer_trained_on_the_other_kind_is_refused(trained, phantom_datasets, tmp_path):
    outputs, _ = trained
    with pytest.raises(InputDataError, match="trained on the segmentation dataset; expected one trained on classif"):
        apply_stainer_stage(config(), "classification", outputs["segmentation"], phantom_datasets, tmp_path / "v")
    assert not (tmp_path / "v").exists()


def test_an_unknown_architecture_is_one_line_naming_the_field(phantom_datasets, tmp_path):
    with pytest.raises(ConfigError, match="train_stainer.*architecture") as error:
        train_stainer_stage(config(), "classification", "unet", phantom_datasets, tmp_path / "out")
    assert "\n" not in str(error.value) and not (tmp_path / "out").exists()


def test_the_report_scores_both_stainers_and_the_baselines_and_draws_panels(trained, phantom_datasets, tmp_path):
    from stainworth.stages.stain_report import beats_baselines, linear_baseline, stain_report

    outputs, store = trained
    train_stainer_stage(config(), "classification", "efficientunet", phantom_datasets, tmp_path / "unet",
                        store_uri=store)
    virtual = {}
    for architecture, folder in (("pix2pixhd", outputs["classification"]), ("efficientunet", tmp_path / "unet")):
        apply_stainer_stage(config(), "classification", folder, phantom_datasets, tmp_path / f"v-{architecture}")
        virtual[architecture] = tmp_path / f"v-{architecture}"
    manifest = stain_report(config(), "classification", phantom_datasets, virtual, tmp_path / "report")
    for method in ("identity", "linear", "pix2pixhd", "efficientunet"):
        for metric in ("ssim", "psnr", "pearson", "mse", "nrmse", "pearson_nucleus"):
            assert np.isfinite(manifest.metrics[f"{method}.{metric}.mean"]), (method, metric)
    assert manifest.config["training"] == config().training_for("classification").model_dump(mode="json")
    comparisons = pd.read_csv(tmp_path / "report" / "baselines.csv")
    assert len(comparisons) == 2 * 2 * 3 and (comparisons.ci_low <= comparisons.estimate).all()
    for row in comparisons.itertuples():
        key = f"{row.stainer}.minus_{row.baseline}.{row.metric}"
        means = (manifest.metrics[f"{method}.{row.metric}.mean"] for method in (row.stainer, row.baseline))
        mean_gap = next(means) - next(means)
        assert manifest.metrics[key] == pytest.approx(row.estimate)
        if row.metric != "pearson_nucleus":  # same images on both sides: the mean difference is the difference of means
            assert row.estimate == pytest.approx(mean_gap)
    for method in ("pix2pixhd", "efficientunet"):
        expected = bool((comparisons[comparisons.stainer == method].ci_low > 0).all())
        assert manifest.metrics[f"{method}.beats_baselines"] == float(expected)
        assert beats_baselines(comparisons.to_dict("records"), method) is expected
    summary = pd.read_csv(tmp_path / "report" / "quality_summary.csv")
    assert len(summary) == 4 * 7 and {"mean", "median", "p5", "p95", "n"} <= set(summary.columns)
    resolution = summary[summary.metric == "frc_um"].set_index("method")
    assert (resolution["mean"] >= 2 * 0.32 - 1e-9).all()  # never finer than two pixels of 0.32 um
    by_class = pd.read_csv(tmp_path / "report" / "quality_by_class.csv")
    assert set(by_class["class"]) == {"control", "treated"} and len(by_class) == 2 * 4 * 7
    counts = by_class[by_class.metric == "ssim"].groupby("method")["n"].sum()
    assert counts.to_dict() == summary[summary.metric == "ssim"].set_index("method")["n"].to_dict()  # a partition
    distances = pd.read_csv(tmp_path / "report" / "feature_distances.csv")
    assert set(distances["method"]) == {"identity", "linear", "pix2pixhd", "efficientunet"}
    assert (distances.ci_low <= distances.estimate).all() and (distances.estimate <= distances.ci_high).all()
    assert distances[distances.distance == "frechet"]["estimate"].ge(0).all()
    assert manifest.metrics["linear.frechet_distance"] == pytest.approx(
        distances.query("method == 'linear' and distance == 'frechet'")["estimate"].iloc[0])
    assert manifest.metrics["efficientunet.treated.ssim.mean"] == pytest.approx(
        by_class.query("method == 'efficientunet' and `class` == 'treated' and metric == 'ssim'")["mean"].iloc[0])
    assert (tmp_path / "report" / "panels.png").stat().st_size > 10_000
    # the linear map is the least-squares one: no (a, b) nearby does better on the training pixels
    from stainworth.datasets import open_dataset as open_ds
    data = open_ds(phantom_datasets / "classification" / "dataset.zarr")
    a, b = linear_baseline(data)
    x = np.asarray(data.arrays("train")["label_free"][:], np.float64).ravel()
    y = np.asarray(data.arrays("train")["fluorescence"][:], np.float64).ravel()
    best = np.mean((a * x + b - y) ** 2)
    assert best <= np.mean(((a * 1.01) * x + b - y) ** 2) and best <= np.mean((a * x + b + 0.01 - y) ** 2)


def test_a_virtual_dataset_of_another_source_is_refused(trained, phantom_datasets, tmp_path):
    from stainworth.stages.stain_report import stain_report

    outputs, _ = trained
    apply_stainer_stage(config(), "classification", outputs["classification"], phantom_datasets, tmp_path / "v")
    with pytest.raises(InputDataError, match="not a virtual segmentation dataset of the given source"):
        stain_report(config(), "segmentation", phantom_datasets, {"pix2pixhd": tmp_path / "v"}, tmp_path / "r")


def test_beating_the_baselines_needs_every_paired_interval_above_zero():
    from stainworth.stages.stain_report import baseline_comparisons, beats_baselines

    rng = np.random.default_rng(0)
    base = {metric: rng.random(200) for metric in ("ssim", "pearson", "pearson_nucleus")}
    per_image = {"identity": base, "linear": {k: v - 0.05 for k, v in base.items()},
                 "good": {k: v + 0.1 + rng.normal(0, 0.05, 200) for k, v in base.items()},
                 "noisy_tie": {k: v + rng.normal(0, 0.3, 200) for k, v in base.items()},
                 "sharp_only": {"ssim": base["ssim"] + 0.2, "pearson": base["pearson"] - 0.1,
                                "pearson_nucleus": base["pearson_nucleus"] + 0.2}}
    comparisons = baseline_comparisons(per_image, ["good", "noisy_tie", "sharp_only"])
    assert len(comparisons) == 3 * 2 * 3
    assert beats_baselines(comparisons, "good")
    assert not beats_baselines(comparisons, "sharp_only") and not beats_baselines(comparisons, "noisy_tie")
    tie = [row for row in comparisons if row["stainer"] == "noisy_tie"]
    assert sum(row["ci_low"] < 0 < row["ci_high"] for row in tie) >= 4  # a zero difference is mostly not called


def test_a_stainer_records_its_device_and_a_missing_gpu_stops_apply_before_writing(trained, phantom_datasets,
                                                                                    tmp_path, monkeypatch):
    outputs, _ = trained
    assert read_manifest(StainerManifest, outputs["segmentation"]).device == "cpu"
    gpu = config()
    gpu.training.device = "cuda"
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    with pytest.raises(ConfigError, match="device 'cuda'"):
        apply_stainer_stage(gpu, "segmentation", outputs["segmentation"], phantom_datasets, tmp_path / "virtual")
    assert not (tmp_path / "virtual").exists()
