"""The pipeline registry, the profile-backed pipeline parameters, and the loop parallelism from the profile."""

import json

import pytest
import yaml
from kfp import dsl

from stainworth.contracts.retrain import CAPACITY_PIPELINES
from stainworth.errors import PipelineError
from stainworth.launch.compile import compile_pipeline
from stainworth.pipelines import PIPELINES, SWEEP_PIPELINES
from stainworth.pipelines.parameters import parameter_defaults, profile_pipeline
from stainworth.profiles import load_profile


def test_the_retrain_contract_names_exactly_the_single_sweep_pipelines():
    assert CAPACITY_PIPELINES == tuple(SWEEP_PIPELINES)
    assert all(PIPELINES[name] == entry for name, entry in SWEEP_PIPELINES.items())


@pytest.mark.parametrize("name", sorted(SWEEP_PIPELINES))
def test_a_single_sweep_entry_compiles_to_its_name_description_and_sweep(name, tmp_path):
    entry = SWEEP_PIPELINES[name]
    spec, _ = list(yaml.safe_load_all(compile_pipeline(name, load_profile("smoke"), tmp_path).read_text()))
    assert spec["pipelineInfo"] == {"name": f"stainworth-{name.replace('_', '-')}", "description": entry.description}
    loops = [task["taskInfo"]["name"] for task in spec["root"]["dag"]["tasks"].values() if "parameterIterator" in task]
    assert loops == ["acquisitions", f"{entry.task} units"]  # the prepare fan-out, then the trainings
    units = [unit for item in json.loads(next(task["parameterIterator"]["items"]["raw"]
                                              for task in spec["root"]["dag"]["tasks"].values()
                                              if task["taskInfo"]["name"] == f"{entry.task} units"))
             for unit in item["units"]]
    whole_split = [unit.get("train_size") is None for unit in units]
    assert all(whole_split) if entry.sweep == "capacity" else not any(whole_split)


def test_every_profile_parameter_defaults_to_its_section():
    profile = load_profile("mini")
    defaults = parameter_defaults(profile)
    assert defaults["tasks_config"] == profile.tasks.model_dump(mode="json", exclude_none=True)
    assert defaults["retrain_config"] == profile.retrain.model_dump(mode="json", exclude_none=True)
    assert defaults["store_uri"] == profile.cluster.store_uri


def test_a_pipeline_parameter_without_a_profile_default_is_refused():
    def pipeline(prepare_config: dict, stainer_uri: str) -> None:
        """Takes a parameter no profile section backs."""

    with pytest.raises(PipelineError, match=r"pipeline 'p': parameters \['stainer_uri'\] have no default from the "
                                            r"profile; expected some of \[.*'prepare_config'"):
        profile_pipeline(load_profile("smoke"), name="p", description="d")(pipeline)


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def echo(text: str) -> None:
    """Stands in for a stage."""


def test_given_defaults_win_over_the_profile():
    @profile_pipeline(load_profile("smoke"), name="p", description="d", defaults={"store_uri": "file:///elsewhere"})
    def pipeline(store_uri: str, tasks_config: dict) -> None:
        echo(text=store_uri)

    assert isinstance(pipeline, dsl.graph_component.GraphComponent)
    spec = pipeline.pipeline_spec
    parameters = spec.root.input_definitions.parameters
    assert parameters["store_uri"].default_value.string_value == "file:///elsewhere"
    assert parameters["tasks_config"].default_value.struct_value["threshold"] == load_profile("smoke").tasks.threshold


@pytest.mark.parametrize("pipeline", ["cls_capacity", "study", "retrain"])
def test_the_loop_over_units_runs_as_many_at_once_as_the_cluster_section_says(pipeline, tmp_path):
    profile = load_profile("paper", ["cluster.parallelism=5"])
    spec, _ = list(yaml.safe_load_all(compile_pipeline(pipeline, profile, tmp_path).read_text()))
    dags = [spec["root"]["dag"], *(c["dag"] for c in spec["components"].values() if "dag" in c)]
    loops = [task for dag in dags for task in dag["tasks"].values() if "parameterIterator" in task]
    assert loops and all(loop["iteratorPolicy"]["parallelismLimit"] == 5 for loop in loops)


def test_parallelism_is_validated():
    from stainworth.errors import ConfigError

    with pytest.raises(ConfigError, match="cluster.parallelism"):
        load_profile("paper", ["cluster.parallelism=0"])
