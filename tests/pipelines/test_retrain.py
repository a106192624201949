"""retrain: its graph (detect, a branch only when something is new, the ledger last), and make watch end to end."""

import json

import yaml

from stainworth.launch.compile import compile_pipeline
from stainworth.launch.watch import watch
from stainworth.phantom.publish import simulate_acquisitions
from stainworth.profiles import load_profile
from stainworth.retrain.ledger import read_ledger
from stainworth.retrain.registry import list_versions, read_current
from stainworth.store import open_store

GPU_EXECUTORS = ("exec-train-stainer", "exec-apply-stainer", "exec-train-task")


def compiled(tmp_path, overrides=()):
    profile = load_profile("paper", ["retrain.holdout_acquisitions=[h1,h2]", *overrides])
    spec, platform = list(yaml.safe_load_all(compile_pipeline("retrain", profile, tmp_path).read_text()))
    return profile, spec, platform


def test_the_branch_runs_only_with_new_acquisitions_and_the_ledger_advances_last(tmp_path):
    profile, spec, _ = compiled(tmp_path)
    root = spec["root"]["dag"]["tasks"]
    assert set(root) == {"detect-acquisitions", "condition-1"}
    assert root["condition-1"]["triggerPolicy"]["condition"] == \
        "int(inputs.parameter_values['pipelinechannel--detect-acquisitions-Output']) > 0"
    branch = spec["components"]["comp-condition-1"]["dag"]["tasks"]
    kinds = [name.rstrip("-0123456789") for name in branch]
    datasets = len(profile.stain.datasets)
    assert kinds.count("ingest") == 2 and kinds.count("extract") == 2  # the holdout and the training data
    assert kinds.count("train-stainer") == 2 * datasets and kinds.count("publish-stainers") == datasets
    assert kinds.count("apply-stainer") == 2  # cls_capacity re-run on the stainers trained here, not new ones
    assert sorted(branch["advance-ledger"]["dependentTasks"]) == ["publish-stainers", "publish-stainers-2", "report"]
    # the loop items stay inside their loop (kubeflow/pipelines#13273 leaks dict fields out of a dsl.If)
    assert not [name for name in root["condition-1"]["inputs"]["parameters"] if "loop-item" in name]
    display = {task["taskInfo"]["name"] for task in branch.values()}
    assert {"ingest", "ingest (holdout)", "extract (holdout)", "publish (segmentation)", "advance ledger"} <= display


def test_the_prepare_defaults_split_holdout_and_training(tmp_path):
    _, spec, _ = compiled(tmp_path)
    inputs = spec["root"]["inputDefinitions"]["parameters"]
    training = inputs["prepare_config"]["defaultValue"]["source"]
    holdout = inputs["holdout_prepare_config"]["defaultValue"]["source"]
    assert training["exclude_acquisition_ids"] == ["h1", "h2"] and training["acquisition_ids"] == []
    assert holdout["acquisition_ids"] == ["h1", "h2"] and not training["phantom"] and not holdout["phantom"]


def test_only_training_tasks_go_to_the_gpu_pool(tmp_path):
    profile, spec, platform = compiled(tmp_path, ["retrain.evaluate=[cls_capacity,seg_capacity]"])
    placement = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    for name, executor in spec["deploymentSpec"]["executors"].items():
        on_gpu = name.startswith(GPU_EXECUTORS)
        assert ("accelerator" in executor["container"].get("resources", {})) == on_gpu, name
        assert ("nodeSelector" in placement[name]) == on_gpu and ("tolerations" in placement[name]) == on_gpu, name
    assert any(name.startswith("exec-publish-stainers") for name in placement)


def phantom(store_uri, tmp_path, seed):
    """Render one control and one treated smoke acquisition into the store; their ids."""
    profile = load_profile("smoke")
    config = profile.simulate.model_copy(update={"seed": seed})
    made = simulate_acquisitions(config, tmp_path / f"sim-{seed}", store_uri=store_uri)
    return sorted(key.rsplit("/", 1)[-1] for key in made.acquisitions)


def test_watch_runs_one_retrain_per_arrival_and_none_without(tmp_path):
    store_uri = f"file://{tmp_path}/store"
    holdout = phantom(store_uri, tmp_path, seed=10)
    first = phantom(store_uri, tmp_path, seed=11)
    profile = load_profile("smoke", [f"retrain.holdout_acquisitions={json.dumps(holdout)}",
                                     "retrain.evaluate=[cls_capacity]", "stain.datasets=[classification]",
                                     "tasks.classification.architectures=[cnn1]"])
    arrivals = []

    def sleep(seconds):
        if len(arrivals) == 0 and read_ledger(open_store(store_uri), profile.retrain.ledger_key).processed:
            arrivals.append(phantom(store_uri, tmp_path, seed=12))

    lines = []
    summary = watch(profile, store_uri, interval_s=0, max_polls=4, runs_dir=tmp_path / "runs", sleep=sleep,
                    echo=lines.append)
    assert len(summary.runs) == 2 and not summary.failures, lines
    assert lines[0] == f"watch: poll 1: 2 new acquisition(s) ({', '.join(first)}); running retrain"
    assert lines[2] == f"watch: poll 2: 2 new acquisition(s) ({', '.join(arrivals[0])}); running retrain"
    assert lines[4:] == ["watch: poll 3: nothing new", "watch: poll 4: nothing new"]
    store = open_store(store_uri)
    ledger = read_ledger(store, profile.retrain.ledger_key)
    assert sorted(ledger.processed) == sorted(first + arrivals[0]) and len(ledger.runs) == 2
    assert sorted(ledger.runs[0].acquisitions) == first and sorted(ledger.runs[1].acquisitions) == arrivals[0]
    for architecture in ("efficientunet", "pix2pixhd"):
        folder = f"models/classification/{architecture}"
        assert [v.version for v in list_versions(store, folder)] == [1, 2]
        assert read_current(store, folder).version in (1, 2)
    assert not any(name in ledger.processed for name in holdout)
    for run_id in summary.runs:  # the capacity sweep re-ran on the stainers the retraining trained
        log = (tmp_path / "runs" / run_id / "run.log").read_text()
        assert log.count("Executing task 'train-stainer") == 2 and "train_task run 8/8 " in log  # 4 modalities x 2
        assert len(list((tmp_path / "runs" / run_id).rglob("report.html"))) == 1
    second = (tmp_path / "runs" / summary.runs[1] / "run.log").read_text()
    assert second.count("stitched earlier with the same settings, reused") == len(holdout) + len(first)
