"""The ``evaluate`` component: the trained units of one task turned into tables, verdict and analyses."""

from kfp import dsl

from stainworth.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def evaluate(config: dict, task: str, units: dsl.Input[list[dsl.Model]], datasets: dsl.Input[dsl.Dataset],
             evaluation: dsl.Output[dsl.Artifact], virtual_effunet: dsl.Input[dsl.Dataset] = None,
             virtual_pix2pixhd: dsl.Input[dsl.Dataset] = None, external: dsl.Input[dsl.Dataset] = None) -> None:
    """Capacity and learnable-capacity tables with uncertainties, paired tests, the verdict, embeddings, feature maps.

    Args:
        config: The tasks configuration (``TasksConfig``).
        task: ``segmentation`` or ``classification``.
        units: ``train_task`` outputs of this task (both sweeps), collected from the fan-out.
        datasets: Output of ``extract`` (test images for the analyses).
        evaluation: Tables (CSV), ``verdict.md``, analyses and the manifest.
        virtual_effunet: Output of ``apply_stainer`` for the EfficientUNet on this task's dataset
            (absent when ``stain.builtin`` leaves it out).
        virtual_pix2pixhd: Output of ``apply_stainer`` for Pix2pixHD on this task's dataset (likewise).
        external: Output of ``external_stainers`` on this task's dataset (absent without ``stain.external``).
    """
    from stainworth.contracts.task import TasksConfig
    from stainworth.runner.stage_entry import run_stage
    from stainworth.runner.virtual_inputs import virtual_dirs
    from stainworth.stages.evaluate import evaluate_stage

    run_stage("tasks", TasksConfig, config,
              lambda valid: evaluate_stage(valid, task, [unit.path for unit in units], datasets.path,  # type: ignore[arg-type]
                                           evaluation.path,
                                           virtual_dirs=virtual_dirs(virtual_effunet, virtual_pix2pixhd, external)),
              artifact=evaluation, torch_threads="task")
