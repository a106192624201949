"""The ``ingest`` component: the acquisitions ``prepare`` works on."""

from kfp import dsl

from stainworth.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def ingest(config: dict, simulate_config: dict, store_uri: str, ingested: dsl.Output[dsl.Dataset]) -> None:
    """Ingest a lab's files (``source.ingest_spec``), or render phantom acquisitions, into the store.

    Args:
        config: The prepare configuration (``PrepareConfig``); this stage reads ``source``.
        simulate_config: The phantom configuration (``SimulateConfig``), used when
            ``source.phantom`` is true and no ingest spec is given.
        store_uri: Store the acquisitions are published to.
        ingested: The ids of the acquisitions published (empty: use those already in the
            store) and the manifest.
    """
    from stainworth.contracts.prepare import PrepareConfig
    from stainworth.contracts.simulate import SimulateConfig
    from stainworth.runner.stage_entry import parse_config, run_stage
    from stainworth.stages.ingest import acquire

    simulate = parse_config("simulate", SimulateConfig, simulate_config)
    run_stage("prepare", PrepareConfig, config,
              lambda valid: acquire(valid.source, simulate, ingested.path, store_uri=store_uri), artifact=ingested)
