"""The ``register`` component: fluorescence mosaics onto the label-free mosaics."""

from kfp import dsl

from stainworth.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def register(config: dict, store_uri: str, stitched: dsl.Input[dsl.Dataset],
             registered: dsl.Output[dsl.Dataset]) -> None:
    """SIFT + RANSAC affine on downsampled mosaics, refined at full resolution; warp fluorescence.

    Args:
        config: The prepare configuration (``PrepareConfig``); reads ``registration``.
        store_uri: Store where registered fields are kept and reused (same lineage: not redone).
        stitched: Output of ``stitch``.
        registered: Fluorescence in the label-free frame per field, and the manifest (matches,
            inliers, residual, error against ground truth when known).
    """
    from stainworth.contracts.prepare import PrepareConfig
    from stainworth.runner.stage_entry import run_stage
    from stainworth.stages.register import register_fields

    run_stage("prepare", PrepareConfig, config,
              lambda valid: register_fields(valid.registration, stitched.path, registered.path,
                                            nucleus_diameter_um=valid.label.nucleus_diameter_um, store_uri=store_uri),
              artifact=registered)
