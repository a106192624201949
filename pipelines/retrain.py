"""Pipeline ``retrain``: when new acquisitions are in the store, retrain and publish the stainers, re-evaluate.

detect → (none new: the run ends) → prepare the holdout and the training acquisitions → train both
stainers per dataset → publish versions, promoted when not worse on the holdout → the configured
capacity sweeps on the new stainers → advance the ledger (last, so a failure anywhere before leaves
it unchanged and the next run retries the same acquisitions).
"""

from typing import Any

from kfp import dsl

from stainworth.components.advance_ledger import advance_ledger
from stainworth.components.detect_acquisitions import detect_acquisitions
from stainworth.components.publish_stainers import publish_stainers
from stainworth.contracts.prepare import PrepareConfig
from stainworth.contracts.profile import Profile
from stainworth.errors import ConfigError
from stainworth.pipelines.parameters import profile_pipeline
from stainworth.pipelines.prepare import prepare_tasks
from stainworth.pipelines.stain import train_stainers
from stainworth.pipelines.sweeps import REPORT_OUTPUT, check_profile_networks, sweep_plan, sweeps_graph
from stainworth.runner.platform import configure_task


def prepare_configs(profile: Profile) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``prepare`` configurations of the training acquisitions and of the holdout.

    Both read what is in the store (no phantom rendering, no ingest); the training one takes every
    complete acquisition but the holdout, the holdout one exactly the holdout.
    """
    retrain = profile.retrain
    source = profile.prepare.source.model_copy(update={"store_prefix": retrain.acquisitions_prefix,
                                                        "phantom": False, "ingest_spec": None})
    training = source.model_copy(update={"acquisition_ids": [],
                                         "exclude_acquisition_ids": list(retrain.holdout_acquisitions)})
    holdout = source.model_copy(update={"acquisition_ids": list(retrain.holdout_acquisitions),
                                        "exclude_acquisition_ids": []})

    def with_source(chosen: Any) -> dict[str, Any]:
        config: PrepareConfig = profile.prepare.model_copy(update={"source": chosen})
        return config.model_dump(mode="json", exclude_none=True)

    return with_source(training), with_source(holdout)


def build(profile: Profile):
    """The ``retrain`` pipeline with the profile's values as parameter defaults."""
    if sorted(profile.stain.builtin) != ["efficientunet", "pix2pixhd"]:
        raise ConfigError(f"stain.builtin: found {list(profile.stain.builtin)}; the retrain pipeline retrains and "
                          "publishes both of the study's stainers, expected [efficientunet, pix2pixhd]")
    training_prepare, holdout_prepare = prepare_configs(profile)
    kinds = list(profile.stain.datasets)
    plan = sweep_plan(profile.retrain.evaluate)
    check_profile_networks(profile, plan)

    @profile_pipeline(
        profile, name="stainworth-retrain",
        description="When new acquisitions are in the store: prepare them, retrain both stainers on all data, "
        "publish versions to the model registry (promoted when not worse on the fixed holdout), re-run the "
        "capacity evaluation, and record the acquisitions in the ledger.",
        defaults={"prepare_config": training_prepare, "holdout_prepare_config": holdout_prepare},
    )
    def retrain(retrain_config: dict, prepare_config: dict, holdout_prepare_config: dict, simulate_config: dict,
                stain_config: dict, tasks_config: dict, store_uri: str) -> None:
        detected = detect_acquisitions(config=retrain_config, store_uri=store_uri).set_display_name("detect")
        configure_task(detected, profile.cluster, gpu=False)
        with dsl.If(detected.outputs["Output"] > 0, name="new-acquisitions"):
            holdout = prepare_tasks(profile, holdout_prepare_config, simulate_config, store_uri,
                                    part="holdout").datasets
            prepared = prepare_tasks(profile, prepare_config, simulate_config, store_uri)
            datasets = prepared.datasets
            trained, published = {}, {}
            for kind in kinds:
                trained[kind] = train_stainers(profile, kind, stain_config, store_uri, datasets)
                task = publish_stainers(config=retrain_config, kind=kind, store_uri=store_uri, holdout=holdout,
                                        **trained[kind]).set_display_name(f"publish ({kind})")
                configure_task(task, profile.cluster, gpu=False)
                published[kind] = task.outputs["published"]
            ledger = advance_ledger(config=retrain_config, store_uri=store_uri, run=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
                                    detection=detected.outputs["detection"], **published
                                    ).set_display_name("advance ledger")
            configure_task(ledger, profile.cluster, gpu=False)
            if plan:
                configs = {"tasks_config": tasks_config, "stain_config": stain_config, "prepare_config": prepare_config}
                evaluated = sweeps_graph(profile, plan, configs, store_uri, prepared, trained)
                ledger.after(evaluated[REPORT_OUTPUT].task)

    return retrain
