"""The ``train_task`` component: task networks trained on one modality each, scored on the test split."""

from kfp import dsl

from stainworth.images import CUDA_IMAGE


@dsl.component(base_image=CUDA_IMAGE, install_kfp_package=False)
def train_task(config: dict, task: str, item: dict, store_uri: str, datasets: dsl.Input[dsl.Dataset],
               unit: dsl.Output[dsl.Model], metrics: dsl.Output[dsl.Metrics],
               roc: dsl.Output[dsl.ClassificationMetrics], virtual_effunet: dsl.Input[dsl.Dataset] = None,
               virtual_pix2pixhd: dsl.Input[dsl.Dataset] = None, external: dsl.Input[dsl.Dataset] = None) -> None:
    """Segmentation U-Nets or classifiers of the capacity ladder, each trained with early stopping.

    Args:
        config: The tasks configuration (``TasksConfig``).
        task: ``segmentation`` or ``classification``.
        item: One loop item of the sweep: ``units``, a list of trainings, each with ``architecture``
            (``unet1`` ... ``efficientunet7``, ``cnn1`` ... ``resnet101``), ``modality``
            (``label_free``, ``virtual_<stainer>`` or ``fluorescence``),
            ``train_size`` (training items of a random subset; absent for the whole training split),
            ``subset`` (which random subset, 0-based), ``replicate`` (which training of the unit,
            0-based) and ``position`` (shown in progress lines, ``run 3/60``); a ``SweepItem``. One
            training per task on a cluster; half of all trainings in one task locally. Passed whole:
            KFP's compiler mis-scopes a dict item's fields inside a ``dsl.If`` (kubeflow/pipelines#13273).
        store_uri: Store for checkpoints (a retried task resumes from them) and the published units.
        datasets: Output of ``extract``.
        unit: One sub-folder per training (network, per-image test scores, history, manifest) and
            the group manifest.
        metrics: Each training's test metrics, capacity and training size (shown in the dashboard).
        roc: Classifiers: the test ROC curve and the confusion matrix at ``threshold`` of the first
            training (empty for segmentation).
        virtual_effunet: Output of ``apply_stainer`` for the EfficientUNet on this task's dataset
            (absent when ``stain.builtin`` leaves it out).
        virtual_pix2pixhd: Output of ``apply_stainer`` for Pix2pixHD on this task's dataset (likewise).
        external: Output of ``external_stainers`` on this task's dataset (absent without ``stain.external``).
    """
    from stainworth.contracts.base import validate_model
    from stainworth.contracts.task import SweepItem, TasksConfig
    from stainworth.runner.kfp_artifacts import log_group_metrics, log_unit_roc
    from stainworth.runner.stage_entry import run_stage
    from stainworth.runner.virtual_inputs import virtual_dirs
    from stainworth.stages.task import train_units_stage

    def work(valid: TasksConfig):  # type: ignore[no-untyped-def]
        parsed = validate_model(SweepItem, item, where="train_task item")
        return train_units_stage(valid, parsed.task_units(task), datasets.path, unit.path, store_uri=store_uri,
                                 positions=parsed.positions,
                                 virtual_dirs=virtual_dirs(virtual_effunet, virtual_pix2pixhd, external))

    written = run_stage("tasks", TasksConfig, config, work, artifact=unit, torch_threads="shared")
    manifests = log_group_metrics(written, unit.path, metrics)  # type: ignore[arg-type]
    log_unit_roc(manifests[0], f"{unit.path}/{manifests[0].unit.name}", roc)
