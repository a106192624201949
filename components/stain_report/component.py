"""The ``stain_report`` component: image quality of both stainers and the baselines, and image panels."""

from kfp import dsl

from stainworth.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def stain_report(config: dict, kind: str, datasets: dsl.Input[dsl.Dataset], report: dsl.Output[dsl.Dataset],
                 pix2pixhd: dsl.Input[dsl.Dataset] = None, efficientunet: dsl.Input[dsl.Dataset] = None,
                 external: dsl.Input[dsl.Dataset] = None) -> None:
    """SSIM, PSNR, PCC, MSE, NRMSE of every stainer, identity and a global linear map; panels.

    Args:
        config: The stain configuration (``StainConfig``); reads ``apply.panels``.
        kind: ``segmentation`` or ``classification``.
        datasets: Output of ``extract`` (real fluorescence).
        report: ``panels.png``, ``quality_summary.csv`` and the manifest.
        pix2pixhd: ``apply_stainer`` output of the Pix2pixHD stainer (absent when ``stain.builtin`` leaves it out).
        efficientunet: ``apply_stainer`` output of the EfficientUNet stainer (likewise).
        external: ``external_stainers`` output: the external stainers, reported by their names.
    """
    from stainworth.contracts.stainer import StainConfig
    from stainworth.runner.stage_entry import run_stage
    from stainworth.runner.virtual_inputs import stainer_dirs
    from stainworth.stages.stain_report import stain_report as write_report

    run_stage("stain", StainConfig, config,
              lambda valid: write_report(valid, kind, datasets.path,  # type: ignore[arg-type]
                                         stainer_dirs(pix2pixhd, efficientunet, external), report.path),
              artifact=report, torch_threads="task")
