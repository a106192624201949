"""The ``stitch`` component: acquisitions' tiles → label-free and fluorescence mosaics."""

from typing import Optional

from kfp import dsl

from stainworth.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def stitch(config: dict, store_uri: str, ingested: dsl.Input[dsl.Dataset], stitched: dsl.Output[dsl.Dataset],
           acquisitions: Optional[list] = None) -> None:  # noqa: UP045 (KFP reads the annotation)
    """Register tiles by cross-correlation of their overlaps, solve positions globally, blend.

    Args:
        config: The prepare configuration (``PrepareConfig``); reads ``source`` and ``stitch``.
        store_uri: Store holding the acquisitions.
        ingested: Output of ``ingest`` (names the ingested acquisition, if any).
        stitched: One mosaic per field and the manifest (positions, residuals, errors).
        acquisitions: This branch's acquisitions (an item of ``acquisition_groups``); absent: all.
    """
    from stainworth.contracts.prepare import PrepareConfig
    from stainworth.runner.stage_entry import run_stage
    from stainworth.stages.stitch import stitch_fields

    run_stage("prepare", PrepareConfig, config,
              lambda valid: stitch_fields(valid, ingested.path, stitched.path, store_uri=store_uri,
                                         acquisition_ids=acquisitions), artifact=stitched)
