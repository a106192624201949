"""The ``extract`` component: the segmentation and classification datasets."""

from kfp import dsl

from stainworth.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def extract(config: dict, store_uri: str, stitched: dsl.Input[dsl.Dataset], registered: dsl.Input[dsl.Dataset],
            labelled: dsl.Input[dsl.Dataset], datasets: dsl.Output[dsl.Dataset]) -> None:
    """Random crops split by region; nuclei on a black canvas, IQR-filtered, balanced 1:1.

    Args:
        config: The prepare configuration (``PrepareConfig``); reads ``extract``.
        store_uri: Store the datasets are published to.
        stitched: Output of ``stitch``.
        registered: Output of ``register``.
        labelled: Output of ``label``.
        datasets: Both datasets with their manifests (counts, splits, seeds, normalisation).
    """
    from stainworth.contracts.prepare import PrepareConfig
    from stainworth.runner.stage_entry import run_stage
    from stainworth.stages.extract import extract_datasets

    run_stage("prepare", PrepareConfig, config,
              lambda valid: extract_datasets(valid.extract, stitched.path, registered.path, labelled.path,
                                             datasets.path, store_uri=store_uri), artifact=datasets)
