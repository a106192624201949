"""retrain's stages on the phantom datasets: detect, publish and promote real stainers, advance the ledger."""

import io
import json
import shutil

import pandas as pd
import pytest

from stainworth.contracts.manifest import OutputManifest, write_manifest
from stainworth.contracts.retrain import RetrainConfig
from stainworth.contracts.stainer import StainConfig
from stainworth.errors import StoreError
from stainworth.retrain.ledger import read_ledger
from stainworth.retrain.registry import list_versions, read_current
from stainworth.stages.retrain import (
    MODELS,
    advance_ledger_stage,
    detect_stage,
    publish_stainers_stage,
    read_detection,
)
from stainworth.stages.stain import train_stainer_stage
from stainworth.store import open_store

TINY_GAN = {"ngf": 8, "n_blocks": 1, "n_blocks_local": 1, "ndf": 8, "num_d": 2, "n_downsampling": 2}
CONFIG = RetrainConfig(holdout_acquisitions=["hold"])


def stain_config(learning_rate):
    return StainConfig.model_validate({"training": {
        "batch_size": 8, "max_epochs": 2, "pix2pixhd": TINY_GAN | {"learning_rate": learning_rate},
        "efficientunet": {"learning_rate": learning_rate}}})


@pytest.fixture(scope="module")
def stainers(phantom_datasets, tmp_path_factory):
    """Two generations of both stainers on the classification dataset: trained, and barely moved from init
    (learning rate 1e-9)."""
    root = tmp_path_factory.mktemp("retrain")
    scratch_store = f"file://{root}/checkpoints"
    made = {}
    for generation, rate in (("good", 1e-3), ("poor", 1e-9)):
        made[generation] = {}
        for architecture in ("efficientunet", "pix2pixhd"):
            out = root / f"{generation}-{architecture}"
            train_stainer_stage(stain_config(rate), "classification", architecture, phantom_datasets, out,
                                store_uri=scratch_store)
            made[generation][architecture] = out
    yield made
    shutil.rmtree(root, ignore_errors=True)


def acquisitions(store_uri, tmp_path, names):
    store = open_store(store_uri)
    for name in names:
        folder = tmp_path / "staging" / name
        folder.mkdir(parents=True)
        (folder / "tile.bin").write_text(name)
        write_manifest(OutputManifest(stage="ingest", config={}, config_hash="0" * 64), folder)
        store.publish_dir(folder, f"acquisitions/{name}")


def test_a_version_is_promoted_only_when_not_worse_on_the_holdout(stainers, phantom_datasets, tmp_path, capsys):
    store_uri = f"file://{tmp_path}/store"
    first = publish_stainers_stage(CONFIG, "classification", stainers["good"], phantom_datasets, tmp_path / "p1",
                                   store_uri=store_uri)
    assert json.loads((tmp_path / "p1" / MODELS).read_text()) == {
        "classification/efficientunet": {"version": 1, "promoted": True, "added": True},
        "classification/pix2pixhd": {"version": 1, "promoted": True, "added": True}}
    table = pd.read_csv(io.BytesIO(open_store(store_uri).get_bytes(
        "models/classification/efficientunet/v1/holdout_quality.csv")))
    assert {"ssim", "psnr", "pearson", "pearson_nucleus", "mse", "nrmse"} <= set(table["metric"])
    assert table.set_index("metric").loc["ssim", "mean"] == pytest.approx(first.metrics["efficientunet.holdout.ssim"])
    second = publish_stainers_stage(CONFIG, "classification", stainers["poor"], phantom_datasets, tmp_path / "p2",
                                    store_uri=store_uri)
    outcomes = {}
    for architecture in ("efficientunet", "pix2pixhd"):
        old, new = first.metrics[f"{architecture}.holdout.ssim"], second.metrics[f"{architecture}.holdout.ssim"]
        assert second.metrics[f"{architecture}.current.ssim"] == pytest.approx(old)  # re-measured side by side
        assert second.metrics[f"{architecture}.version"] == 2
        outcomes[architecture] = bool(second.metrics[f"{architecture}.promoted"])
        assert outcomes[architecture] is (new >= old)
        current = read_current(open_store(store_uri), f"models/classification/{architecture}")
        assert current.version == (2 if outcomes[architecture] else 1)
    assert outcomes["pix2pixhd"] is False  # barely moved from its initialisation, it scores far below v1
    assert "kept the current version" in capsys.readouterr().out
    again = publish_stainers_stage(CONFIG, "classification", stainers["good"], phantom_datasets, tmp_path / "p3",
                                   store_uri=store_uri)
    assert again.metrics["pix2pixhd.version"] == 1 and again.metrics["pix2pixhd.promoted"] == 1
    assert json.loads((tmp_path / "p3" / MODELS).read_text())["classification/pix2pixhd"]["added"] is False


def test_detect_then_advance_records_the_run(stainers, phantom_datasets, tmp_path):
    store_uri = f"file://{tmp_path}/store"
    acquisitions(store_uri, tmp_path, ["hold", "a1", "a2"])
    detected = detect_stage(CONFIG, tmp_path / "detect", store_uri=store_uri)
    assert detected.counts == {"pending": 2, "training": 2, "holdout": 1}
    publish_stainers_stage(CONFIG, "classification", stainers["good"], phantom_datasets, tmp_path / "pub",
                           store_uri=store_uri)
    assert read_ledger(open_store(store_uri), CONFIG.ledger_key).processed == {}  # only the last step advances
    advance_ledger_stage(CONFIG, tmp_path / "detect", [tmp_path / "pub"], tmp_path / "ledger", run="r1",
                         store_uri=store_uri)
    ledger = read_ledger(open_store(store_uri), CONFIG.ledger_key)
    assert sorted(ledger.processed) == ["a1", "a2"] and ledger.runs[0].run == "r1"
    assert ledger.runs[0].models == {"classification/efficientunet": "v1", "classification/pix2pixhd": "v1"}
    assert detect_stage(CONFIG, tmp_path / "detect2", store_uri=store_uri).counts["pending"] == 0


def s3_retrain_store(tmp_path, new_bucket, names):
    uri = f"s3://{new_bucket('retrain')}/lab"
    acquisitions(uri, tmp_path, names)
    return uri


def versions(store_uri, architecture):
    return list_versions(open_store(store_uri), f"models/classification/{architecture}")


def test_a_crash_before_the_last_step_leaves_the_ledger_and_the_retry_adds_nothing_twice(
        stainers, phantom_datasets, tmp_path, s3_env, new_bucket):
    store_uri = s3_retrain_store(tmp_path, new_bucket, ["hold", "a1", "a2"])
    detect_stage(CONFIG, tmp_path / "d1", store_uri=store_uri)
    publish_stainers_stage(CONFIG, "classification", stainers["good"], phantom_datasets, tmp_path / "p1",
                           store_uri=store_uri)
    # the run dies here: no advance_ledger
    assert not open_store(store_uri).exists(CONFIG.ledger_key)
    retry = detect_stage(CONFIG, tmp_path / "d2", store_uri=store_uri)
    assert retry.input_hashes == read_detection(tmp_path / "d1").pending  # the same acquisitions, again
    publish_stainers_stage(CONFIG, "classification", stainers["good"], phantom_datasets, tmp_path / "p2",
                           store_uri=store_uri)
    advance_ledger_stage(CONFIG, tmp_path / "d2", [tmp_path / "p2"], tmp_path / "l2", run="retry",
                         store_uri=store_uri)
    ledger = read_ledger(open_store(store_uri), CONFIG.ledger_key)
    assert sorted(ledger.processed) == ["a1", "a2"] and [run.run for run in ledger.runs] == ["retry"]
    assert [v.version for v in versions(store_uri, "efficientunet")] == [1]  # not published twice


def test_a_store_outage_mid_publish_leaves_the_ledger_and_the_next_run_completes(
        stainers, phantom_datasets, tmp_path, s3_outage, monkeypatch, new_bucket):
    import stainworth.stages.retrain as stage

    store_uri = s3_retrain_store(tmp_path, new_bucket, ["hold", "a1"])
    detect_stage(CONFIG, tmp_path / "d1", store_uri=store_uri)
    measured = []
    real_quality = stage.holdout_quality

    def quality_then_outage(*args, **kwargs):
        measured.append(1)
        if len(measured) == 2:  # efficientunet is published and promoted; the store goes away before pix2pixhd
            s3_outage.cut()
        return real_quality(*args, **kwargs)

    monkeypatch.setattr(stage, "holdout_quality", quality_then_outage)
    with pytest.raises(StoreError, match=r"^store s3://.*: unreachable after \d+ attempts") as raised:
        publish_stainers_stage(CONFIG, "classification", stainers["good"], phantom_datasets, tmp_path / "p1",
                               store_uri=store_uri)
    assert "\n" not in str(raised.value)
    s3_outage.restore()
    monkeypatch.setattr(stage, "holdout_quality", real_quality)
    assert not open_store(store_uri).exists(CONFIG.ledger_key)
    assert [v.version for v in versions(store_uri, "efficientunet")] == [1] and versions(store_uri, "pix2pixhd") == []
    detect_stage(CONFIG, tmp_path / "d2", store_uri=store_uri)
    assert read_detection(tmp_path / "d2").pending == read_detection(tmp_path / "d1").pending
    publish_stainers_stage(CONFIG, "classification", stainers["good"], phantom_datasets, tmp_path / "p2",
                           store_uri=store_uri)
    s3_outage.cut()  # and once more, between the last publish and the ledger
    with pytest.raises(StoreError):
        advance_ledger_stage(CONFIG, tmp_path / "d2", [tmp_path / "p2"], tmp_path / "l2", run="r2",
                             store_uri=store_uri)
    s3_outage.restore()
    assert not open_store(store_uri).exists(CONFIG.ledger_key)
    advance_ledger_stage(CONFIG, tmp_path / "d2", [tmp_path / "p2"], tmp_path / "l3", run="r3", store_uri=store_uri)
    ledger = read_ledger(open_store(store_uri), CONFIG.ledger_key)
    assert ledger.processed == read_detection(tmp_path / "d1").pending and len(ledger.runs) == 1
    assert [v.version for v in versions(store_uri, "pix2pixhd")] == [1]
    assert read_current(open_store(store_uri), "models/classification/pix2pixhd").version == 1
