"""The ``merge_fields`` component: the branches of the prepare fan-out joined into one output per stage."""

from kfp import dsl

from stainworth.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def merge_fields(config: dict, stitched: dsl.Input[list[dsl.Dataset]], registered: dsl.Input[list[dsl.Dataset]],
                 labelled: dsl.Input[list[dsl.Dataset]], merged_stitched: dsl.Output[dsl.Dataset],
                 merged_registered: dsl.Output[dsl.Dataset], merged_labelled: dsl.Output[dsl.Dataset]) -> None:
    """Every branch's stitch, register and label outputs joined, as one unbranched run writes them.

    Args:
        config: The prepare configuration (``PrepareConfig``); validated, not otherwise read.
        stitched: ``stitch`` outputs of every branch, collected from the fan-out.
        registered: ``register`` outputs of every branch.
        labelled: ``label`` outputs of every branch.
        merged_stitched: Every field's mosaic and the joined stitch manifest.
        merged_registered: Every field's registered fluorescence and the joined register manifest.
        merged_labelled: Every field's nuclei labels and the joined label manifest.
    """
    from stainworth.contracts.prepare import PrepareConfig
    from stainworth.runner.stage_entry import run_stage
    from stainworth.stages.merge import merge_prepared

    run_stage("prepare", PrepareConfig, config,
              lambda valid: merge_prepared([part.path for part in stitched], [part.path for part in registered],
                                           [part.path for part in labelled], merged_stitched.path,
                                           merged_registered.path, merged_labelled.path),
              artifact=merged_labelled)
