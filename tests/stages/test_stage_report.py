"""report on the evaluate and stain_report outputs of a small phantom run: files, manifest, refusals."""

import json
import re
import shutil
from datetime import UTC, datetime

import pandas as pd
import pytest

from stainworth.contracts.manifest import read_manifest
from stainworth.contracts.report import ReportConfig, ReportManifest
from stainworth.contracts.task import EvaluationManifest
from stainworth.errors import InputDataError
from stainworth.stages.report import report_stage

CONFIG = ReportConfig(profile="smoke", settings={"name": "smoke", "prepare": {"source": {"phantom": True}},
                                                  "tasks": {"note": "<script>x</script>"}})
WHEN = datetime(2025, 3, 4, 5, 6, tzinfo=UTC)


@pytest.fixture(scope="module")
def written(evaluated_study, tmp_path_factory):
    evaluations, reports = evaluated_study
    out = tmp_path_factory.mktemp("report") / "report"
    manifest = report_stage(evaluations, reports, out, config=CONFIG, generated=WHEN)
    return out, manifest


def test_the_report_folder_holds_page_summary_figures_tables_and_manifest(written, evaluated_study):
    out, manifest = written
    evaluations, _ = evaluated_study
    assert read_manifest(ReportManifest, out) == manifest
    assert manifest.tasks == ["segmentation", "classification"] and manifest.datasets == manifest.tasks
    assert manifest.data_source == "phantom (simulated acquisitions)"
    assert sorted(manifest.paths["figures"]) == sorted(
        f"figures/{name}.png" for name in ("segmentation-capacity", "classification-capacity",
                                           "classification-learnable", "classification-embeddings"))
    assert all((out / path).read_bytes()[:4] == b"\x89PNG" for path in manifest.paths["figures"])
    for task, folder in evaluations.items():
        source = read_manifest(EvaluationManifest, folder)
        assert manifest.verdict[task] == source.verdict
        assert manifest.input_hashes[f"evaluate.{task}"] == source.content_hash
        for name in [*source.paths["tables"], "units.csv"]:
            assert (out / "tables" / task / name).read_bytes() == (folder / name).read_bytes()
    assert (out / "tables" / "classification" / "hotelling.csv").is_file()
    assert not (out / "tables" / "segmentation" / "learnable.csv").exists()  # a capacity-only segmentation run
    assert manifest.counts["tables"] == len(manifest.paths["tables"]) == len(list(out.glob("tables/*/*.csv")))
    capacity = pd.read_csv(evaluations["classification"] / "capacity.csv")
    row = capacity.iloc[0]
    assert manifest.metrics[f"classification.{row['architecture']}.{row['modality']}.auc"] == pytest.approx(
        row["auc"], abs=1e-6)
    assert not list(out.parent.glob(".report.report-*"))  # the scratch folder is gone


def test_the_page_is_self_contained_and_holds_the_study_content(written, evaluated_study):
    out, manifest = written
    html = (out / "report.html").read_text()
    assert re.findall(r'src="(?!data:image/png;base64,)', html) == []
    assert "http://" not in html and "https://" not in html and "<script>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    assert "<dd>2025-03-04 05:06 UTC</dd>" in html and "stainworth report: profile smoke" in html
    first_sentence = manifest.verdict["classification"][0]
    assert first_sentence.replace("&", "&amp;").replace("<", "&lt;") in html
    assert html.index(first_sentence) < html.index("Deviations from the study</h2>")
    # the image-quality numbers of stain_report, as the table shows them
    evaluations, reports = evaluated_study
    summary = pd.read_csv(reports["classification"] / "quality_summary.csv").set_index(["method", "metric"])
    from stainworth.report.labels import with_spread

    ssim = summary.loc[("efficientunet", "ssim")]
    assert f"<td>{with_spread(ssim['mean'], ssim['std'])}</td>" in html
    # deviations of this small run
    assert "segmentation: capacity sweep over unet1, unet2; the study's ladder is" in html
    assert "trainings ran to their epoch cap without early stopping" in html
    # feature maps, mask panels, both stain-report panels: every PNG inline
    images = len(re.findall(r'src="data:image/png;base64,', html))
    feature_maps = len(read_manifest(EvaluationManifest, evaluations["segmentation"]).paths["feature_maps"]) // 2
    assert images == len(manifest.paths["figures"]) + feature_maps + 3 + 2


def test_the_summary_has_the_verdicts_and_headline_tables(written):
    out, manifest = written
    summary = (out / "summary.md").read_text()
    assert summary.startswith("# stainworth report: profile smoke\n")
    for sentence in manifest.verdict["segmentation"] + manifest.verdict["classification"]:
        assert f"- {sentence}" in summary
    assert "| network (parameters) | label-free | virtual (EfficientUNet) | virtual (Pix2pixHD) | fluorescence |" \
        in summary
    assert "| cnn1 (417) |" in summary
    assert "AUC (empirical) by network and modality (capacity sweep, combined over 2 replicates, 95% CI):" in summary


def test_the_page_shows_replicates_families_and_how_training_ended(written, evaluated_study):
    out, _ = written
    html = (out / "report.html").read_text()
    evaluations, _ = evaluated_study
    for task, folder in evaluations.items():
        verdict = json.loads((folder / "verdict.json").read_text())
        assert f"<p>Multiplicity: {verdict['family']}.</p>" in html
        units = pd.read_csv(folder / "units.csv")
        counts = units["ended"].value_counts()
        total = len(units)
        capped = int(counts.get("epoch_cap", 0))
        assert f"{task}: of the {total} trainings, " in html
        assert f"{capped} of {total} ({100 * capped / total:.0f}%) ran to the epoch cap" in html
        seed = int(units["init_seed"].iloc[0])
        assert f"<td>{seed}</td>" in html
        assert f"{task}: profile seed tasks.{task}.training.seed = 0" in html
    assert "Capacity sweep: every network and modality on the whole training split, combined over 2 replicates" in html
    assert "<th>Holm-adjusted p</th><th>family</th>" in html
    assert "<td>virtual_effunet auc capacity</td>" in html and "<td>virtual_effunet dice capacity</td>" in html
    assert "points: single trainings" in html and "between-replicate variance" in html
    assert "one row per paired training in comparisons_replicates.csv" in html


def test_the_figures_of_the_phantom_run_draw_every_training(evaluated_study):
    from matplotlib.collections import PathCollection

    from stainworth.report import figures
    from stainworth.report.labels import modality_name

    evaluations, _ = evaluated_study

    def points(axis):
        return sum(len(c.get_offsets()) for c in axis.collections if isinstance(c, PathCollection))

    capacity = pd.read_csv(evaluations["classification"] / "capacity.csv")
    single = capacity[capacity["replicate"].notna()]
    figure = figures.classification_capacity_figure(capacity)
    for axis in figure.axes:  # label-free, one stain, fluorescence
        stain = next(m for m in ("virtual_effunet", "virtual_pix2pixhd") if modality_name(m) == axis.get_title())
        assert points(axis) == single["modality"].isin(["label_free", stain, "fluorescence"]).sum()
    learnable = pd.read_csv(evaluations["classification"] / "learnable.csv")
    units = pd.read_csv(evaluations["classification"] / "units.csv")
    sized = units[units["train_size"].notna()]
    figure = figures.classification_learnable_figure(learnable, units)
    assert [points(axis) for axis in figure.axes] == [3 * len(sized) // 4] * 2  # 4 modalities, 3 per panel
    segmentation = pd.read_csv(evaluations["segmentation"] / "capacity.csv")
    figure = figures.segmentation_capacity_figure(segmentation)
    assert [points(axis) for axis in figure.axes] == [int(segmentation["replicate"].notna().sum())] * 3


def test_one_task_without_stain_reports(evaluated_study, tmp_path):
    evaluations, _ = evaluated_study
    manifest = report_stage({"segmentation": evaluations["segmentation"]}, None, tmp_path / "r")
    assert manifest.tasks == ["segmentation"] and manifest.datasets == [] and manifest.data_source == "not recorded"
    assert manifest.paths["figures"] == ["figures/segmentation-capacity.png"]
    assert "Classification of treated nuclei" not in (tmp_path / "r" / "report.html").read_text()


def test_a_report_is_replaced_whole_and_a_failed_one_leaves_it_untouched(evaluated_study, tmp_path):
    evaluations, reports = evaluated_study
    out = tmp_path / "report"
    report_stage({"classification": evaluations["classification"]}, {}, out)
    first = (out / "manifest.json").read_bytes()
    broken = tmp_path / "broken"
    shutil.copytree(evaluations["segmentation"], broken)
    (broken / "manifest.json").unlink()
    with pytest.raises(InputDataError, match=r"broken: no manifest.json \(a missing or unfinished output\); "
                                             r"expected the evaluate output of the segmentation task"):
        report_stage({"segmentation": broken}, {}, out)
    assert (out / "manifest.json").read_bytes() == first and sorted(p.name for p in tmp_path.iterdir()) == [
        "broken", "report"]
    report_stage(evaluations, reports, out)
    assert json.loads((out / "manifest.json").read_text())["tasks"] == ["segmentation", "classification"]


def test_bad_inputs_end_with_one_line_naming_the_folder(evaluated_study, tmp_path):
    evaluations, reports = evaluated_study
    cases = [
        ({"segmentation": reports["segmentation"]}, {}, r"stain-report-segmentation: the output of stage "
         r"'stain_report'; expected the evaluate output of the segmentation task"),
        ({"segmentation": evaluations["classification"]}, {}, r"evaluate-classification: the evaluation of the "
         r"classification task; expected the evaluate output of the segmentation task"),
        ({}, {"classification": evaluations["classification"]}, r"the output of stage 'evaluate'; expected the "
         r"stain_report output of the classification dataset"),
        ({}, {"segmentation": reports["classification"]}, r"stain-report-classification: the stain_report of the "
         r"classification dataset; expected the stain_report output of the segmentation dataset"),
        ({"detection": evaluations["segmentation"]}, {}, r"evaluations of \['detection'\]: expected names among "
         r"segmentation, classification"),
        ({}, {}, r"report: no input given; expected an evaluate output of at least one task or a stain_report"),
    ]
    for evaluation_dirs, report_dirs, message in cases:
        with pytest.raises(InputDataError, match=message) as raised:
            report_stage(evaluation_dirs, report_dirs, tmp_path / "out")
        assert "\n" not in str(raised.value)
    assert not (tmp_path / "out").exists() and list(tmp_path.iterdir()) == []
