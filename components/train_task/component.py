"""The ``train_task`` component: one task network trained once on one modality, scored on the test split."""

from kfp import dsl

from stainworth.images import CUDA_IMAGE


@dsl.component(base_image=CUDA_IMAGE, install_kfp_package=False)
def train_task(config: dict, task: str, item: dict, store_uri: str, datasets: dsl.Input[dsl.Dataset],
               virtual_effunet: dsl.Input[dsl.Dataset], virtual_pix2pixhd: dsl.Input[dsl.Dataset],
               unit: dsl.Output[dsl.Model], metrics: dsl.Output[dsl.Metrics],
               roc: dsl.Output[dsl.ClassificationMetrics]) -> None:
    """A segmentation U-Net or a classifier of the capacity ladder, trained with early stopping.

    Args:
        config: The tasks configuration (``TasksConfig``).
        task: ``segmentation`` or ``classification``.
        item: One loop item of the sweep: ``architecture`` (``unet1`` ... ``efficientunet7``,
            ``cnn1`` ... ``resnet101``), ``modality`` (``label_free``, ``virtual_effunet``,
            ``virtual_pix2pixhd`` or ``fluorescence``), ``train_size`` (training items of a random
            subset; 0 for the whole training split), ``subset`` (which random subset, 0-based) and
            ``position`` (shown in progress lines, ``run 3/20``). Passed whole: KFP's compiler
            mis-scopes a dict item's fields inside a ``dsl.If`` (kubeflow/pipelines#13273).
        store_uri: Store for checkpoints (a retried task resumes from them) and the published unit.
        datasets: Output of ``extract``.
        virtual_effunet: Output of ``apply_stainer`` for the EfficientUNet on this task's dataset.
        virtual_pix2pixhd: Output of ``apply_stainer`` for Pix2pixHD on this task's dataset.
        unit: The trained network, per-image test scores, history and manifest.
        metrics: The unit's test metrics, capacity and training size (shown in the dashboard).
        roc: Classifiers: the test ROC curve and the confusion matrix at ``threshold`` (empty for segmentation).
    """
    from stainworth.contracts.base import validate_model
    from stainworth.contracts.task import TasksConfig, TaskUnit
    from stainworth.runner.kfp_artifacts import log_unit_metrics, log_unit_roc
    from stainworth.runner.stage_entry import run_stage
    from stainworth.stages.task import train_task_stage

    def work(valid: TasksConfig):  # type: ignore[no-untyped-def]
        what = validate_model(TaskUnit, {"task": task, "architecture": item.get("architecture"),
                                         "modality": item.get("modality"),
                                         "train_size": item.get("train_size") or None,
                                         "subset": item.get("subset", 0)}, where="train_task unit")
        return train_task_stage(valid, what, datasets.path, unit.path, store_uri=store_uri,
                                position=str(item.get("position", "")),
                                virtual_dirs={"virtual_effunet": virtual_effunet.path,
                                              "virtual_pix2pixhd": virtual_pix2pixhd.path})

    written = run_stage("tasks", TasksConfig, config, work, artifact=unit, torch_threads="shared")
    log_unit_metrics(written, metrics)  # type: ignore[arg-type]
    log_unit_roc(written, unit.path, roc)  # type: ignore[arg-type]
