"""The ``simulate`` component: phantom acquisitions into the store."""

from kfp import dsl

from stainworth.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def simulate(config: dict, store_uri: str, acquisitions: dsl.Output[dsl.Dataset]) -> None:
    """Render phantom acquisitions (QPI + fluorescence tiles with ground truth) into the store.

    Args:
        config: The stage configuration (``SimulateConfig`` fields: seed, fields_per_condition,
            conditions, store_prefix, phantom).
        store_uri: Store to publish acquisitions to (``file://...`` or ``s3://bucket/prefix``);
            empty uses STAINWORTH_STORE.
        acquisitions: Index of the published acquisitions and the stage manifest.
    """
    from stainworth.contracts.simulate import SimulateConfig
    from stainworth.phantom.publish import simulate_acquisitions
    from stainworth.runner.stage_entry import run_stage

    run_stage(
        "simulate",
        SimulateConfig,
        config,
        lambda validated: simulate_acquisitions(validated, acquisitions.path, store_uri=store_uri),
        artifact=acquisitions,
    )
