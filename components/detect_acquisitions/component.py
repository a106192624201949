"""The ``detect_acquisitions`` component: which acquisitions in the store the ledger has not seen."""

from kfp import dsl

from stainworth.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def detect_acquisitions(config: dict, store_uri: str, detection: dsl.Output[dsl.Artifact]) -> int:
    """New or changed acquisitions (by content hash) against the retraining ledger.

    Args:
        config: The retrain configuration (``RetrainConfig``).
        store_uri: Store holding the acquisitions and the ledger.
        detection: ``detection.json`` (pending, training and holdout acquisitions; the ledger as read).

    Returns:
        How many acquisitions are new (0: the retraining ends here). A single return value (output
        ``Output``): kfp.local 2.17 resolves a condition on a task output only under that name.
    """
    from stainworth.contracts.retrain import RetrainConfig
    from stainworth.runner.stage_entry import run_stage
    from stainworth.stages.retrain import detect_stage

    written = run_stage("retrain", RetrainConfig, config,
                        lambda valid: detect_stage(valid, detection.path, store_uri=store_uri),  # type: ignore[arg-type]
                        artifact=detection)
    return int(written.counts["pending"])
