"""The ``train_stainer`` component: one virtual stainer trained on one dataset."""

from kfp import dsl

from stainworth.images import CUDA_IMAGE


@dsl.component(base_image=CUDA_IMAGE, install_kfp_package=False)
def train_stainer(config: dict, kind: str, architecture: str, store_uri: str, datasets: dsl.Input[dsl.Dataset],
                  stainer: dsl.Output[dsl.Model]) -> None:
    """EfficientUNet or Pix2pixHD: normalisation from the training split, early stopping, best epoch kept.

    Args:
        config: The stain configuration (``StainConfig``); reads ``training``.
        kind: ``segmentation`` or ``classification``.
        architecture: ``efficientunet`` or ``pix2pixhd``.
        store_uri: Store for checkpoints (a retried task resumes from them) and the published stainer.
        datasets: Output of ``extract``.
        stainer: The stainer folder (weights, configuration, normalisation) and its manifest.
    """
    from stainworth.contracts.stainer import StainConfig
    from stainworth.runner.stage_entry import run_stage
    from stainworth.stages.stain import train_stainer_stage

    run_stage("stain", StainConfig, config,
              lambda valid: train_stainer_stage(valid, kind, architecture, datasets.path, stainer.path,  # type: ignore[arg-type]
                                                store_uri=store_uri), artifact=stainer, torch_threads="task")
