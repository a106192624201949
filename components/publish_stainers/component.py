"""The ``publish_stainers`` component: new stainer versions into the registry, promoted when not worse."""

from kfp import dsl

from stainworth.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def publish_stainers(config: dict, kind: str, store_uri: str, pix2pixhd: dsl.Input[dsl.Model],
                     efficientunet: dsl.Input[dsl.Model], holdout: dsl.Input[dsl.Dataset],
                     published: dsl.Output[dsl.Artifact]) -> None:
    """Score both new stainers and the current versions on the fixed holdout; publish; promote.

    Args:
        config: The retrain configuration (``RetrainConfig``).
        kind: ``segmentation`` or ``classification``.
        store_uri: Store holding the model registry.
        pix2pixhd: ``train_stainer`` output of Pix2pixHD.
        efficientunet: ``train_stainer`` output of the EfficientUNet.
        holdout: ``extract`` output of the holdout acquisitions (its test split is scored).
        published: ``models.json`` (version and promotion per stainer) and the holdout scores.
    """
    from stainworth.contracts.retrain import RetrainConfig
    from stainworth.runner.stage_entry import run_stage
    from stainworth.stages.retrain import publish_stainers_stage

    run_stage("retrain", RetrainConfig, config,
              lambda valid: publish_stainers_stage(valid, kind,  # type: ignore[arg-type]
                                                   {"pix2pixhd": pix2pixhd.path, "efficientunet": efficientunet.path},
                                                   holdout.path, published.path, store_uri=store_uri),
              artifact=published, torch_threads="task")
