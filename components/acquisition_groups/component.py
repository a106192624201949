"""The ``acquisition_groups`` component: the acquisitions to prepare, as the branches of the prepare fan-out."""

from kfp import dsl

from stainworth.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def acquisition_groups(config: dict, store_uri: str, ingested: dsl.Input[dsl.Dataset], slots: int) -> list:
    """One list of acquisition ids per branch of stitch → register → label.

    Args:
        config: The prepare configuration (``PrepareConfig``); reads ``source`` and ``grouping``.
        store_uri: Store holding the acquisitions.
        ingested: Output of ``ingest`` (names the ingested acquisition, if any).
        slots: Branches at most when ``grouping`` is ``slots`` (the local runner's slots).

    Returns:
        The branches, each a list of acquisition ids. A single return value (output ``Output``):
        kfp.local 2.17 resolves a loop over a task output only under that name.
    """
    from stainworth.contracts.prepare import PrepareConfig
    from stainworth.runner.stage_entry import run_stage
    from stainworth.stages.stitch import acquisition_groups as groups_of

    return run_stage("prepare", PrepareConfig, config,  # type: ignore[return-value]
                     lambda valid: groups_of(valid, ingested.path, store_uri=store_uri,  # type: ignore[arg-type,return-value]
                                             slots=slots))
