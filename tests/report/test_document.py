"""The whole report page from evaluate and stain_report folders: order, figures, tables, escaping."""

import base64
import re

import pytest

from stainworth.contracts.report import ReportConfig
from stainworth.report.deviations import deviations
from stainworth.report.document import build_document, feature_map_grid, task_figures
from stainworth.report.html import render
from stainworth.report.inputs import read_evaluation, read_stain_quality

CONFIG = ReportConfig(profile="mini", settings={"name": "mini", "note": "<script>alert('x')</script>",
                                                "simulate": {"seed": 3}, "prepare": {"source": {"phantom": True}},
                                                "tasks": {"classification": {"training": {"seed": 7}}}})


@pytest.fixture(scope="module")
def folders(data, tmp_path_factory):
    root = tmp_path_factory.mktemp("report-inputs")
    seg = {"capacity": data.seg_capacity(), "learnable": data.seg_learnable(),
           "comparisons": data.comparisons("segmentation"), "units": data.units("segmentation")}
    cls = {"capacity": data.cls_capacity(), "learnable": data.cls_learnable(),
           "comparisons": data.comparisons("classification"), "embeddings": data.embeddings(),
           "hotelling": data.hotelling(), "embedding_distances": data.embedding_distances(),
           "units": data.units("classification")}
    evaluations = {"segmentation": data.write_evaluation(root / "evaluate-segmentation", "segmentation", seg),
                   "classification": data.write_evaluation(root / "evaluate-classification", "classification", cls)}
    stain = {kind: data.write_stain_report(root / f"stain-{kind}", kind) for kind in ("segmentation", "classification")}
    return evaluations, stain


@pytest.fixture(scope="module")
def built(folders):
    evaluation_dirs, stain_dirs = folders
    evaluations = [read_evaluation(evaluation_dirs[t], t) for t in ("segmentation", "classification")]
    qualities = [read_stain_quality(stain_dirs[k], k) for k in ("segmentation", "classification")]
    drawn = {e.task: task_figures(e) for e in evaluations}
    found = deviations(evaluations, "phantom (simulated acquisitions)")
    return render(build_document(CONFIG, evaluations, qualities, drawn, found, "2025-01-02 03:04 UTC")), drawn


def test_every_figure_and_image_is_inline_and_nothing_is_external(built, folders):
    html, drawn = built
    assert [f.name for f in drawn["segmentation"]] == ["segmentation-capacity", "segmentation-learnable"]
    assert [f.name for f in drawn["classification"]] == ["classification-capacity", "classification-learnable",
                                                         "classification-embeddings"]
    for figure in [*drawn["segmentation"], *drawn["classification"]]:
        assert "data:image/png;base64," + base64.b64encode(figure.png).decode() in html
    evaluation_dirs, stain_dirs = folders
    for path in [*evaluation_dirs["segmentation"].glob("*/*.png"), *(d / "panels.png" for d in stain_dirs.values())]:
        assert base64.b64encode(path.read_bytes()).decode() in html, path
    assert len(re.findall(r'src="data:image/png;base64,', html)) == 5 + 3 + 3 + 2
    assert re.findall(r'src="(?!data:image/png;base64,)', html) == []
    for forbidden in ("http://", "https://", 'src="file', "<script", "<link"):
        assert forbidden not in html


def test_verdict_first_then_deviations_quality_tasks_configuration_provenance(built):
    html, _ = built
    headings = re.findall(r"<h2 id=\"[^\"]+\">([^<]+)</h2>", html)
    assert headings == ["Verdict", "Deviations from the study", "Image quality of the virtual stains",
                        "Segmentation of nuclei", "Classification of treated nuclei", "Configuration", "Provenance"]
    for task in ("segmentation", "classification"):
        sentence = f"{task}: label-free reaches virtual_effunet from the second network on."
        assert html.index(sentence) < html.index("Deviations from the study</h2>")
    assert "<dd>phantom (simulated acquisitions)</dd>" in html
    assert "<title>stainworth report: profile mini</title>" in html


def test_numbers_with_uncertainty_and_units_are_in_the_tables(built):
    html, _ = built
    assert "<td>0.420 [0.390, 0.460]</td>" in html  # unet1 label-free Dice, combined over replicates
    assert "<td>0.400 [0.380, 0.420]</td>" in html  # its replicate 0, test-set interval
    assert "<td>segmentation-unet1-label_free-all-s0-r0 (abcdef00); segmentation-unet1-label_free-all-s0-r1 " \
           "(abcdef01); segmentation-unet1-label_free-all-s0-r2 (abcdef02)</td>" in html
    assert "<td>0.750 [0.720, 0.790]</td>" in html  # resnet18 label-free AUC
    assert "every network and modality on the whole training split, combined over 3 replicates; 95% CI combining " \
           "test-set and between-replicate variance" in html
    assert "<summary>The 24 single trainings of the capacity sweep, each with its test-set 95% CI</summary>" in html
    assert "<td>0.550 ± 0.0200</td><td>[0.500, 0.610]</td>" in html  # learnable mean ± SD, combined CI
    assert "<td>0.0800 [0.0300, 0.130]</td><td>2.4</td><td>0.0130</td><td>0.0260</td>" \
           "<td>virtual_effunet auc capacity</td>" in html  # difference [CI], df, p, Holm p, family
    assert "<td>0.0100 [0.00800, 0.0130]</td>" in html  # cnn1 label-free cosine distance
    assert "<td>0.750 [0.690, 0.810]</td>" in html  # Hotelling, virtual_effunet
    assert "<td>23.000 ± 0.0500</td>" in html and "<td>0.800 ± 0.0500</td>" in html  # EfficientUNet PSNR, SSIM
    assert "EfficientUNet beats both baselines (identity, global linear) on SSIM, Pearson correlation, Pearson " \
           "correlation in nuclei (paired differences" in html
    assert "Pix2pixHD beats both baselines (identity, global linear) on SSIM; it does not beat them on Pearson " \
           "correlation below the identity baseline (-0.040 [-0.060, -0.020]); Pearson correlation in nuclei not " \
           "distinguishable from the global linear baseline (+0.010 [-0.020, +0.040])" in html
    assert "(full precision: tables/classification/hotelling.csv)" in html
    assert "(full precision: tables/classification/embedding_distances.csv)" in html
    assert "<td>4.000 [3.200, 5.200]</td>" in html  # identity baseline, Fréchet, in the cnn1 trained on fluorescence
    assert "resnet18 trained from scratch because no ImageNet weights were supplied" in html


def test_the_verdict_names_the_family_and_the_replicates(built, data):
    html, _ = built
    verdict = html[html.index("Verdict</h2>"):html.index("Deviations from the study</h2>")]
    assert f"<p>Multiplicity: {data.FAMILY}.</p>" in verdict
    assert "Families of this evaluation: 'virtual_effunet auc capacity' (2 comparisons); " \
           "'virtual_effunet auc train_size' (2 comparisons);" in verdict
    assert "AUC (empirical) [95% CI] of every network of the capacity sweep, combined over 3 replicates" in verdict


def test_figure_captions_say_what_bars_and_points_are(built):
    _, drawn = built
    captions = {figure.name: figure.caption for figure in drawn["segmentation"] + drawn["classification"]}
    for name in ("segmentation-capacity", "classification-capacity"):
        assert "combined over 3 replicates; error bars: 95% interval combining test-set and between-replicate " \
               "variance; points: single trainings" in captions[name]
    assert "combined over 3 training subsets × 2 replicates" in captions["classification-learnable"]
    assert "points: single trainings (Dice only" in captions["segmentation-learnable"]


def test_how_training_ended_and_the_seeds(built):
    html, _ = built
    assert "classification: of the 72 trainings, 12 of 72 (17%) stopped early, 60 of 72 (83%) ran to the epoch cap " \
           "and 0 of 72 (0%) retrained after a degenerate attempt." in html
    assert "<td>resnet18</td><td>60</td><td>0 of 60 (0%)</td><td>60 of 60 (100%)</td>" in html
    assert "classification: profile seed tasks.classification.training.seed = 7 in the report's settings, but the " \
           "evaluated units were trained with 0." in html
    assert "segmentation: profile seed tasks.segmentation.training.seed = 0 (as the evaluation recorded it" in html
    assert "<td>capacity</td><td>0</td><td>1</td><td>1001</td><td>8</td><td>0</td>" in html  # seed table row
    assert "Seeds of the profile: simulate.seed = 3, tasks.classification.training.seed = 7." in html
    assert html.index("How training ended</h3>") < html.index("Classification of treated nuclei</h2>")


def test_the_configuration_is_escaped(built):
    html, _ = built
    assert "note: &lt;script&gt;alert('x')&lt;/script&gt;" in html
    assert "alert('x')</script>" not in html


def test_feature_maps_form_a_modality_by_network_grid(folders):
    evaluation = read_evaluation(folders[0]["segmentation"])
    grid = feature_map_grid(evaluation)
    assert grid.rows == ["label-free", "fluorescence"] and grid.columns == ["unet1", "unet3"]
    assert set(grid.cells) == {("label-free", "unet1"), ("label-free", "unet3"), ("fluorescence", "unet3")}


def test_a_learnable_only_evaluation_says_what_is_missing(data, tmp_path):
    folder = data.write_evaluation(tmp_path / "e", "classification", {"learnable": data.cls_learnable()})
    evaluation = read_evaluation(folder)
    drawn = {"classification": task_figures(evaluation)}
    html = render(build_document(ReportConfig(), [evaluation], [], drawn, [], "now"))
    assert [f.name for f in drawn["classification"]] == ["classification-learnable"]
    assert "This run has no capacity sweep for classification." in html
    assert "Image quality of the virtual stains" not in html and "<dd>not recorded</dd>" in html
