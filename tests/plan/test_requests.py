"""Task requests from the plan's measured peaks: the arithmetic, the compiled YAML that follows them, bad names."""

import pytest
import yaml

from stainworth.errors import ConfigError
from stainworth.launch.compile import compile_pipeline
from stainworth.plan.probe import ProbeResult
from stainworth.plan.report import make_plan, write_plan
from stainworth.plan.requests import GIB, MARGIN, memory_quantity
from stainworth.profiles import load_profile
from stainworth.runner.stage_probe import StageProbe


def probe(spec, *, device="cpu"):
    """A training step of 1 GiB per item of the batch, 0.5 GiB of libraries."""
    return ProbeResult(parameters=10, train_flops_per_item=1.0, forward_flops_per_item=1.0,
                       peak_bytes=spec.batch * GIB, device=device, seconds_per_step=0.0, host_bytes=0.5 * GIB)


def stages(profile):
    return {name: StageProbe(name, 1.0, peak * GIB, {})
            for name, peak in (("ingest", 3.0), ("stitch", 0.4), ("register", 0.5), ("label", 2.2), ("extract", 0.9))}


def test_memory_is_the_margin_times_the_need_in_whole_gib():
    assert MARGIN == 1.25
    assert memory_quantity(3.2 * GIB) == "4Gi" and memory_quantity(3.3 * GIB) == "5Gi"
    assert memory_quantity(1.0) == "1Gi" and memory_quantity(2 * GIB, margin=2.0) == "4Gi"


def test_each_component_gets_the_largest_need_of_its_units():
    profile = load_profile("smoke")
    plan = make_plan(profile, ["cls_capacity", "seg_capacity"], prober=probe, stage_prober=stages,
                     progress=lambda line: None)
    requests = plan.requests
    units = [cost.unit for group in plan.costs.values() for cost in group]
    trainings = [unit for unit in units if unit.kind != "stainer"]
    data = {"segmentation": 5, "classification": 4}
    need = max(0.5 * GIB + unit.batch * GIB + (unit.train_items + unit.val_items) * unit.size**2 * data[unit.dataset]
               for unit in trainings)
    assert requests["train_task"].need_bytes == pytest.approx(need)
    assert requests["train_task"].resources.memory == memory_quantity(need)
    assert requests["train_task"].resources.gpus == profile.cluster.gpu_task.gpus
    assert requests["train_task"].resources.cpu == profile.cluster.gpu_task.cpu
    stainer = max(0.5 * GIB + unit.batch * GIB for unit in units if unit.kind == "stainer")
    assert requests["train_stainer"].need_bytes == requests["apply_stainer"].need_bytes == pytest.approx(stainer)
    assert requests["label"].resources.memory == "3Gi" and requests["ingest"].resources.memory == "4Gi"
    assert requests["stitch"].resources.gpus == 0 and requests["stitch"].resources.cpu == profile.cluster.cpu_task.cpu
    assert "evaluate" not in requests and "report" not in requests


def test_a_step_measured_on_a_gpu_is_not_host_memory():
    profile = load_profile("smoke")
    on_gpu = make_plan(profile, ["stain"], prober=lambda spec: probe(spec, device="H100"), stage_prober=stages,
                       progress=lambda line: None)
    assert on_gpu.requests["train_stainer"].need_bytes == pytest.approx(0.5 * GIB)


def test_the_compiled_pipeline_asks_for_what_the_plan_measured(tmp_path):
    """make plan → requests.yaml in the profile → make compile: every task's requests are the plan's."""
    smoke = load_profile("smoke")
    plan = make_plan(smoke, ["cls_capacity"], prober=probe, progress=lambda line: None)  # prepare measured for real
    assert {"ingest", "stitch", "register", "label", "extract"} <= set(plan.stages)
    assert all(0 < stage.peak_bytes < 8 * GIB for stage in plan.stages.values())
    files = write_plan(plan, tmp_path / "plan")
    fragment = yaml.safe_load(files[3].read_text())
    profile_file = tmp_path / "measured.yaml"
    profile_file.write_text(yaml.safe_dump(smoke.model_dump(mode="json") | {
        "cluster": smoke.cluster.model_dump(mode="json") | fragment["cluster"]}))
    measured = load_profile(str(profile_file))
    spec, platform = list(yaml.safe_load_all(compile_pipeline("cls_capacity", measured, tmp_path).read_text()))
    executors = spec["deploymentSpec"]["executors"]
    seen = set()
    for name, executor in executors.items():
        component = name.removeprefix("exec-").rstrip("-0123456789").replace("-", "_")
        resources = executor["container"]["resources"]
        expected = plan.requests[component].resources if component in plan.requests else measured.cluster.cpu_task
        assert resources["memoryLimit"] == resources["memoryRequest"] == pytest.approx(
            float(expected.memory.removesuffix("Gi")) * GIB / 1e9), name
        assert resources["cpuLimit"] == float(expected.cpu), name
        assert int(resources.get("accelerator", {}).get("resourceCount", 0)) == expected.gpus, name
        seen.add(component)
    assert {"train_task", "train_stainer", "apply_stainer", "stitch", "label", "extract", "evaluate"} <= seen


def test_requests_for_a_component_that_does_not_exist_are_refused(tmp_path):
    profile = load_profile("smoke", ["cluster.requests={train_tasks: {cpu: '2', memory: 4Gi}}"])
    with pytest.raises(ConfigError, match=r"cluster.requests: components \['train_tasks'\] do not exist"):
        compile_pipeline("cls_capacity", profile, tmp_path)


def test_the_paper_profile_carries_a_request_for_every_measured_component():
    from stainworth.plan.requests import PREPARE_COMPONENTS

    requests = load_profile("paper").cluster.requests
    assert set(requests) == set(PREPARE_COMPONENTS) | {"train_task", "train_stainer", "apply_stainer"}
    assert all(request.gpus == 1 for name, request in requests.items() if name.endswith(("task", "stainer")))
