"""Every registered pipeline compiles on every profile, loads back, and carries the cluster settings."""

import json

import pytest
import yaml
from kfp import components

from stainworth.launch.compile import compile_pipeline
from stainworth.pipelines import PIPELINES
from stainworth.profiles import available_profiles, load_profile


@pytest.mark.parametrize("profile_name", available_profiles())
@pytest.mark.parametrize("pipeline", sorted(PIPELINES))
def test_compiles_and_loads_back(pipeline, profile_name, tmp_path):
    profile = load_profile(profile_name)
    path = compile_pipeline(pipeline, profile, tmp_path)
    assert path == tmp_path / f"{pipeline}.yaml" and not list(tmp_path.glob(".*"))
    loaded = components.load_component_from_file(str(path))
    assert loaded.name == f"stainworth-{pipeline.replace('_', '-')}"
    spec, platform = list(yaml.safe_load_all(path.read_text()))
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert set(executors) == set(spec["deploymentSpec"]["executors"])
    for executor in executors.values():
        assert executor["secretAsEnv"][0]["secretName"] == profile.cluster.minio_secret
    if profile.cluster.retries:
        assert all(task["retryPolicy"]["maxRetryCount"] == profile.cluster.retries for task in _container_tasks(spec))


def _container_tasks(spec: dict) -> list[dict]:
    """Tasks running a container, in the root DAG and inside loops."""
    dags = [spec["root"]["dag"], *(c["dag"] for c in spec["components"].values() if "dag" in c)]
    return [task for dag in dags for task in dag["tasks"].values()
            if "executorLabel" in spec["components"][task["componentRef"]["name"]]]


def test_unknown_pipeline_lists_the_known_ones():
    from stainworth.errors import PipelineError
    from stainworth.pipelines import build_pipeline

    with pytest.raises(PipelineError,
                       match=r"pipeline 'nope': unknown; expected one of \[.*'prepare', 'retrain', 'seg_capacity'"):
        build_pipeline("nope", load_profile("smoke"))


def test_stain_trains_and_applies_on_the_gpu_pool_and_the_rest_on_cpu(tmp_path):
    profile = load_profile("paper")
    spec, platform = list(yaml.safe_load_all(compile_pipeline("stain", profile, tmp_path).read_text()))
    executors = spec["deploymentSpec"]["executors"]
    placement = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    names = {name.removeprefix("exec-").rstrip("-0123456789") for name in executors}
    assert {"train-stainer", "apply-stainer", "stain-report", "extract"} <= names
    for name, executor in executors.items():
        resources = executor["container"].get("resources", {})
        on_gpu = name.startswith(("exec-train-stainer", "exec-apply-stainer"))
        assert ("accelerator" in resources) == on_gpu, name
        assert ("nodeSelector" in placement[name]) == on_gpu, name
        assert executor["container"]["image"].endswith("cuda:0.1.0" if on_gpu else "cpu:0.1.0"), name
    tasks = spec["root"]["dag"]["tasks"]
    assert sum(name.startswith("train-stainer") for name in tasks) == 2 * len(profile.stain.datasets)


SWEEPS = {
    "seg_capacity": {"segmentation": ("capacity",)},
    "seg_learnable": {"segmentation": ("learnable",)},
    "cls_capacity": {"classification": ("capacity",)},
    "cls_learnable": {"classification": ("learnable",)},
    "study": {"segmentation": ("capacity", "learnable"), "classification": ("capacity", "learnable")},
}
GPU_EXECUTORS = ("exec-train-stainer", "exec-apply-stainer", "exec-train-task")


@pytest.mark.parametrize("pipeline", sorted(SWEEPS))
def test_sweeps_train_on_the_gpu_pool_and_prepare_and_evaluate_on_cpu(pipeline, tmp_path):
    profile = load_profile("paper")
    spec, platform = list(yaml.safe_load_all(compile_pipeline(pipeline, profile, tmp_path).read_text()))
    executors = spec["deploymentSpec"]["executors"]
    placement = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    names = {name.removeprefix("exec-").rstrip("-0123456789") for name in executors}
    assert {"train-stainer", "apply-stainer", "train-task", "evaluate", "stain-report", "extract", "ingest"} <= names
    for name, executor in executors.items():
        resources = executor["container"].get("resources", {})
        on_gpu = name.startswith(GPU_EXECUTORS)
        assert ("accelerator" in resources) == on_gpu, name
        assert ("nodeSelector" in placement[name]) == on_gpu, name
        assert ("tolerations" in placement[name]) == on_gpu, name
        assert executor["container"]["image"].endswith("cuda:0.1.0" if on_gpu else "cpu:0.1.0"), name
        if on_gpu:
            assert resources["accelerator"]["resourceCount"] == str(profile.cluster.gpu_task.gpus)
            assert placement[name]["nodeSelector"]["labels"] == profile.cluster.gpu_node_selector
            assert placement[name]["tolerations"][0]["key"] == profile.cluster.gpu_toleration.key


@pytest.mark.parametrize("profile_name", available_profiles())
@pytest.mark.parametrize("pipeline", sorted(SWEEPS))
def test_sweeps_share_one_prepare_and_fan_out_every_unit(pipeline, profile_name, tmp_path):
    profile = load_profile(profile_name)
    spec, _ = list(yaml.safe_load_all(compile_pipeline(pipeline, profile, tmp_path).read_text()))
    tasks = spec["root"]["dag"]["tasks"]
    plan = SWEEPS[pipeline]
    kinds = [name.rstrip("-0123456789") for name in tasks]
    assert kinds.count("extract") == 1 and kinds.count("ingest") == 1
    assert kinds.count("train-stainer") == kinds.count("apply-stainer") == 2 * len(plan)
    assert kinds.count("evaluate") == kinds.count("stain-report") == len(plan)
    assert kinds.count("for-loop") == len(plan) + 1  # and the prepare fan-out
    assert set(spec["root"]["outputDefinitions"]["artifacts"]) == {
        f"{task}_{output}" for task in plan for output in ("report", "evaluation")} | {"study_report"}
    report = tasks["report"]["inputs"]["artifacts"]
    assert {name: value["taskOutputArtifact"]["producerTask"].rstrip("-0123456789") for name, value in report.items()} \
        == {f"{task}_{name}": producer for task in plan
            for name, producer in (("evaluation", "evaluate"), ("stain_report", "stain-report"))}
    for task, sweeps in plan.items():
        sweep = profile.tasks.sweep(task)
        loop = next(t for t in tasks.values() if t["taskInfo"]["name"] == f"{task} units")
        items = json.loads(loop["parameterIterator"]["items"]["raw"])
        assert all(len(item["units"]) == 1 for item in items)  # compiled for a cluster: one training per task
        units = [item["units"][0] for item in items]
        expected = len(sweep.modalities) * (
            ("capacity" in sweeps) * len(sweep.architectures) * sweep.replicates
            + ("learnable" in sweeps) * len(sweep.learnable.sizes) * sweep.learnable.subsets
            * profile.tasks.learnable_replicates(task))
        assert len(units) == expected
        replicates = max(("capacity" in sweeps) * sweep.replicates,
                         ("learnable" in sweeps) * profile.tasks.learnable_replicates(task))
        assert {unit["replicate"] for unit in units} == set(range(replicates))
        assert [unit["position"] for unit in units] == [f"run {k}/{expected}" for k in range(1, expected + 1)]
        assert all(unit["modality"] in sweep.modalities for unit in units)
        assert loop["iteratorPolicy"]["parallelismLimit"] >= 1
        evaluate = next(t for t in tasks.values() if t["taskInfo"]["name"] == f"evaluate ({task})")
        assert evaluate["inputs"]["artifacts"]["units"]["taskOutputArtifact"]["producerTask"] == \
            next(name for name, t in tasks.items() if t is loop)


@pytest.mark.parametrize("pipeline", ["prepare", "cls_capacity"])
def test_prepare_fans_out_one_branch_per_acquisition_then_merges(pipeline, tmp_path):
    spec, platform = list(yaml.safe_load_all(compile_pipeline(pipeline, load_profile("paper"), tmp_path).read_text()))
    tasks = spec["root"]["dag"]["tasks"]
    loop = next(t for t in tasks.values() if t["taskInfo"]["name"] == "acquisitions")
    iterator = loop["parameterIterator"]
    assert iterator["items"]["inputParameter"] == "pipelinechannel--acquisition-groups-Output"
    assert loop["dependentTasks"] == ["acquisition-groups", "ingest"]
    branch = spec["components"][loop["componentRef"]["name"]]["dag"]["tasks"]
    assert sorted(branch) == ["label", "register", "stitch"]
    assert branch["stitch"]["inputs"]["parameters"]["acquisitions"]["componentInputParameter"] == \
        iterator["itemInput"]
    merge = tasks["merge-fields"]
    assert sorted(merge["inputs"]["artifacts"]) == ["labelled", "registered", "stitched"]
    loop_name = next(name for name, task in tasks.items() if task is loop)
    producers = {value["taskOutputArtifact"]["producerTask"] for value in merge["inputs"]["artifacts"].values()}
    assert producers == {loop_name}
    extract = tasks["extract"]["inputs"]["artifacts"]
    assert {name: value["taskOutputArtifact"] for name, value in extract.items()} == {
        name: {"producerTask": "merge-fields", "outputArtifactKey": f"merged_{name}"}
        for name in ("stitched", "registered", "labelled")}
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert {f"exec-{name}" for name in ("stitch", "register", "label", "merge-fields", "acquisition-groups")} \
        <= set(executors)
