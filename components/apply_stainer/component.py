"""The ``apply_stainer`` component: the virtually stained version of every split of a dataset."""

from kfp import dsl

from stainworth.images import CUDA_IMAGE


@dsl.component(base_image=CUDA_IMAGE, install_kfp_package=False)
def apply_stainer(config: dict, kind: str, stainer: dsl.Input[dsl.Model], datasets: dsl.Input[dsl.Dataset],
                  virtual: dsl.Output[dsl.Dataset]) -> None:
    """Stain train, val and test item for item; score the test split (SSIM, PSNR, PCC, MSE, NRMSE).

    Args:
        config: The stain configuration (``StainConfig``); reads ``apply``.
        kind: ``segmentation`` or ``classification``.
        stainer: Output of ``train_stainer``.
        datasets: Output of ``extract``.
        virtual: The virtual dataset (same indices, masks and labels as the source) and its manifest.
    """
    from stainworth.contracts.stainer import StainConfig
    from stainworth.runner.stage_entry import run_stage
    from stainworth.stages.stain import apply_stainer_stage

    run_stage("stain", StainConfig, config,
              lambda valid: apply_stainer_stage(valid, kind, stainer.path, datasets.path, virtual.path),  # type: ignore[arg-type]
              artifact=virtual, torch_threads="task")
