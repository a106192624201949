"""The ``label`` component: nuclei instance masks from the fluorescence nuclear marker."""

from kfp import dsl

from stainworth.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def label(config: dict, store_uri: str, stitched: dsl.Input[dsl.Dataset], registered: dsl.Input[dsl.Dataset],
          labelled: dsl.Output[dsl.Dataset]) -> None:
    """Classical labeler or a user-supplied Cellpose 3 model, then the study's clean-up.

    Args:
        config: The prepare configuration (``PrepareConfig``); reads ``label``.
        store_uri: Store a ``model_uri`` may point into, and where labelled fields are kept and reused.
        stitched: Output of ``stitch`` (frame and ground truth).
        registered: Output of ``register`` (the registered marker channel).
        labelled: Nuclei labels per field and the manifest (counts; Dice and AP@0.5 against
            ground truth when known).
    """
    from stainworth.contracts.prepare import PrepareConfig
    from stainworth.runner.stage_entry import run_stage
    from stainworth.stages.label import label_fields

    run_stage("prepare", PrepareConfig, config,
              lambda valid: label_fields(valid.label, stitched.path, registered.path, labelled.path,
                                         store_uri=store_uri), artifact=labelled)
