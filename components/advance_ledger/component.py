"""The ``advance_ledger`` component: the retraining's last task records what it processed."""

from typing import Optional

from kfp import dsl

from stainworth.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def advance_ledger(config: dict, store_uri: str, run: str, detection: dsl.Input[dsl.Artifact],
                   ledger: dsl.Output[dsl.Artifact],
                   segmentation: Optional[dsl.Input[dsl.Artifact]] = None,  # noqa: UP045 - KFP reads the annotation
                   classification: Optional[dsl.Input[dsl.Artifact]] = None) -> None:  # noqa: UP045
    """Add the detected acquisitions to the ledger with the versions published for them.

    Args:
        config: The retrain configuration (``RetrainConfig``).
        store_uri: Store holding the ledger.
        run: The run's name, recorded in the ledger.
        detection: Output of ``detect_acquisitions``.
        ledger: The manifest of the advanced ledger.
        segmentation: Output of ``publish_stainers`` for the segmentation dataset, when retrained.
        classification: Output of ``publish_stainers`` for the classification dataset, when retrained.
    """
    from stainworth.contracts.retrain import RetrainConfig
    from stainworth.runner.stage_entry import run_stage
    from stainworth.stages.retrain import advance_ledger_stage

    published = [output.path for output in (segmentation, classification) if output is not None]
    run_stage("retrain", RetrainConfig, config,
              lambda valid: advance_ledger_stage(valid, detection.path, published, ledger.path,  # type: ignore[arg-type]
                                                 run=run, store_uri=store_uri), artifact=ledger)
