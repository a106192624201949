"""The report component: called directly, compiled with one task or both, and run by kfp.local from importers."""

import json
import subprocess
import sys

import pytest
import yaml
from kfp import compiler, dsl

from stainworth.components.report import report
from stainworth.contracts.manifest import read_manifest
from stainworth.contracts.report import ReportManifest

CONFIG = {"profile": "smoke", "data_source": "phantom", "settings": {"tasks": {"batch_size": 4}}}
INPUTS = ("segmentation_evaluation", "classification_evaluation", "segmentation_stain_report",
          "classification_stain_report")


def outputs(root):
    return (dsl.HTML(name="report", uri=str(root / "report.html")),
            dsl.Markdown(name="summary", uri=str(root / "summary.md")),
            dsl.Artifact(name="folder", uri=str(root / "folder")))


def test_the_body_writes_the_page_the_summary_and_the_folder(evaluated_study, tmp_path):
    evaluations, reports = evaluated_study
    page, summary, folder = outputs(tmp_path)
    report.python_func(config=CONFIG, report=page, summary=summary, folder=folder,
                       classification_evaluation=dsl.Artifact(name="e", uri=str(evaluations["classification"])),
                       classification_stain_report=dsl.Dataset(name="r", uri=str(reports["classification"])))
    manifest = read_manifest(ReportManifest, tmp_path / "folder")
    assert manifest.tasks == ["classification"] and manifest.datasets == ["classification"]
    assert (tmp_path / "report.html").read_bytes() == (tmp_path / "folder" / "report.html").read_bytes()
    assert (tmp_path / "summary.md").read_text().startswith("# stainworth report: profile smoke")
    assert folder.metadata["stage"] == "report" and folder.metadata["content_hash"] == manifest.content_hash


def test_an_input_in_the_wrong_slot_ends_with_one_line(evaluated_study, tmp_path, capsys):
    evaluations, _ = evaluated_study
    page, summary, folder = outputs(tmp_path)
    with pytest.raises(SystemExit) as ended:
        report.python_func(config=CONFIG, report=page, summary=summary, folder=folder,
                           segmentation_evaluation=dsl.Artifact(name="e", uri=str(evaluations["classification"])))
    assert ended.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("stainworth-error:") and "\n" not in error
    assert "the evaluation of the classification task; expected the evaluate output of the segmentation task" in error
    assert not (tmp_path / "folder").exists() and not (tmp_path / "report.html").exists()


def test_a_bad_config_ends_with_one_line(tmp_path, capsys):
    page, summary, folder = outputs(tmp_path)
    with pytest.raises(SystemExit):
        report.python_func(config={"data_source": "lab"}, report=page, summary=summary, folder=folder)
    assert "report config: field 'data_source'" in capsys.readouterr().err


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def evaluation_stub(evaluation: dsl.Output[dsl.Artifact]) -> None:
    """Stands in for evaluate."""


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def stain_report_stub(report: dsl.Output[dsl.Dataset]) -> None:
    """Stands in for stain_report."""


def compiled_report_task(path, given):
    """Compile a pipeline feeding ``given`` report inputs from stand-in tasks; the report task and component."""

    @dsl.pipeline(name="report-wiring")
    def pipeline():
        arguments = {}
        for name in given:
            if name.endswith("evaluation"):
                arguments[name] = evaluation_stub().set_display_name(name).outputs["evaluation"]
            else:
                arguments[name] = stain_report_stub().set_display_name(name).outputs["report"]
        report(config=CONFIG, **arguments)

    compiler.Compiler().compile(pipeline, str(path))
    spec = yaml.safe_load(path.read_text())
    return spec["root"]["dag"]["tasks"]["report"], spec["components"]["comp-report"]


@pytest.mark.parametrize("given", [("classification_evaluation",),
                                   ("segmentation_evaluation", "segmentation_stain_report"),
                                   INPUTS])
def test_the_component_compiles_with_one_task_or_both(given, tmp_path):
    task, component = compiled_report_task(tmp_path / "p.yaml", given)
    declared = component["inputDefinitions"]["artifacts"]
    assert set(declared) == set(INPUTS) and all(declared[name]["isOptional"] for name in INPUTS)
    assert set(task["inputs"]["artifacts"]) == set(given)
    assert set(component["outputDefinitions"]["artifacts"]) == {"report", "summary", "folder"}
    assert component["outputDefinitions"]["artifacts"]["report"]["artifactType"]["schemaTitle"] == "system.HTML"
    assert component["outputDefinitions"]["artifacts"]["summary"]["artifactType"]["schemaTitle"] == "system.Markdown"


RUN_LOCALLY = """
import json, sys
from kfp import dsl, local
from stainworth.components.report import report
spec = json.loads(sys.argv[1])
local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=spec["root"], raise_on_error=True)

@dsl.pipeline(name="report-local")
def pipeline() -> dsl.HTML:
    segmentation = dsl.importer(artifact_uri=spec["segmentation"], artifact_class=dsl.Artifact, reimport=False)
    stained = dsl.importer(artifact_uri=spec["stain"], artifact_class=dsl.Dataset, reimport=False)
    return report(config={"profile": "smoke", "data_source": "phantom"}, segmentation_evaluation=segmentation.output,
                  segmentation_stain_report=stained.output).outputs["report"]

print("OUTPUT", pipeline().output.path)
"""


def test_kfp_local_runs_it_with_absent_optional_inputs(evaluated_study, tmp_path):
    evaluations, reports = evaluated_study
    spec = {"root": str(tmp_path / "root"), "segmentation": str(evaluations["segmentation"]),
            "stain": str(reports["segmentation"])}
    result = subprocess.run([sys.executable, "-c", RUN_LOCALLY, json.dumps(spec)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    page = next(line for line in result.stdout.splitlines() if line.startswith("OUTPUT")).split(" ", 1)[1]
    html = open(page, encoding="utf-8").read()
    assert html.startswith("<!DOCTYPE html>") and "Segmentation of nuclei" in html
    assert "Classification of treated nuclei" not in html and "<dd>phantom (simulated acquisitions)</dd>" in html
