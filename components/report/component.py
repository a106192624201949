"""The ``report`` component: one run's study report (HTML page, Markdown summary, figures, tables)."""

from kfp import dsl

from stainworth.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def report(config: dict, report: dsl.Output[dsl.HTML], summary: dsl.Output[dsl.Markdown],
           folder: dsl.Output[dsl.Artifact], segmentation_evaluation: dsl.Input[dsl.Artifact] = None,
           classification_evaluation: dsl.Input[dsl.Artifact] = None,
           segmentation_stain_report: dsl.Input[dsl.Dataset] = None,
           classification_stain_report: dsl.Input[dsl.Dataset] = None) -> None:
    """Verdict, deviations from the study, image quality, the study's figures and tables, configuration, provenance.

    Args:
        config: The report configuration (``ReportConfig``): ``profile`` (name shown), ``data_source``
            (``phantom`` or ``real``; absent: read from ``settings.prepare.source``) and ``settings``
            (the resolved profile to show).
        report: The self-contained HTML page (one file).
        summary: Verdict sentences and headline tables in Markdown (one file).
        folder: ``report.html``, ``summary.md``, ``figures/``, ``tables/`` and the manifest.
        segmentation_evaluation: ``evaluate`` output of the segmentation task (optional).
        classification_evaluation: ``evaluate`` output of the classification task (optional).
        segmentation_stain_report: ``stain_report`` output of the segmentation dataset (optional).
        classification_stain_report: ``stain_report`` output of the classification dataset (optional).
    """
    import shutil
    from pathlib import Path

    from stainworth.contracts.report import HTML_FILE, SUMMARY_FILE, ReportConfig
    from stainworth.runner.stage_entry import run_stage
    from stainworth.stages.report import report_stage

    evaluations = {task: artifact.path for task, artifact in (("segmentation", segmentation_evaluation),
                                                              ("classification", classification_evaluation))
                   if artifact is not None}
    stain_reports = {kind: artifact.path for kind, artifact in (("segmentation", segmentation_stain_report),
                                                                ("classification", classification_stain_report))
                     if artifact is not None}
    run_stage("report", ReportConfig, config,
              lambda valid: report_stage(evaluations, stain_reports, folder.path, config=valid),
              artifact=folder)
    for name, artifact in ((HTML_FILE, report), (SUMMARY_FILE, summary)):
        Path(artifact.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(folder.path) / name, artifact.path)
