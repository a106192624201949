"""The ``external_stainers`` component: the virtual datasets of the stainers a lab trained elsewhere."""

from kfp import dsl

from stainworth.images import CUDA_IMAGE


@dsl.component(base_image=CUDA_IMAGE, install_kfp_package=False)
def external_stainers(config: dict, prepare_config: dict, kind: str, store_uri: str, stitched: dsl.Input[dsl.Dataset],
                      datasets: dsl.Input[dsl.Dataset], virtual: dsl.Output[dsl.Dataset]) -> None:
    """Each stainer of ``stain.external`` (a model file or pre-computed images) as a virtual dataset.

    Args:
        config: The stain configuration (``StainConfig``); reads ``external`` and ``apply``.
        prepare_config: The prepare configuration (``PrepareConfig``); reads ``source.store_prefix``,
            where the acquisitions whose tiles pre-computed images mirror are.
        kind: ``segmentation`` or ``classification``.
        store_uri: Store of the acquisitions and of model files given as store URIs.
        stitched: Output of ``stitch`` (label-free mosaics and tile positions).
        datasets: Output of ``extract``.
        virtual: One folder ``virtual_<name>`` per stainer (a virtual dataset, as ``apply_stainer``
            writes it, with the test split's image quality) and the manifest.
    """
    from stainworth.contracts.base import validate_model
    from stainworth.contracts.prepare import PrepareConfig
    from stainworth.contracts.stainer import StainConfig
    from stainworth.runner.stage_entry import run_stage
    from stainworth.stages.external_stain import external_stainers_stage

    prefix = validate_model(PrepareConfig, prepare_config, where="prepare config").source.store_prefix
    run_stage("stain", StainConfig, config,
              lambda valid: external_stainers_stage(valid, kind, stitched.path, datasets.path,  # type: ignore[arg-type]
                                                    virtual.path, acquisitions_prefix=prefix, store_uri=store_uri),
              artifact=virtual, torch_threads="task")
