"""Reading the report's inputs back: complete outputs of the right stage, task and dataset only."""

import json
import shutil

import pytest

from stainworth.errors import InputDataError
from stainworth.report.inputs import (
    check_names,
    read_evaluation,
    read_stain_quality,
    read_table,
    replicate_rows,
    summary_rows,
)


def test_an_evaluation_with_all_its_tables_and_images(report_folders, data):
    evaluations, _ = report_folders
    evaluation = read_evaluation(evaluations["segmentation"], "segmentation")
    assert evaluation.task == "segmentation"
    assert sorted(evaluation.tables) == ["capacity", "comparisons", "learnable", "units"]
    assert len(evaluation.table("capacity")) == 8 * (1 + data.REPLICATES) and evaluation.table("embeddings") is None
    assert [p.name for p in evaluation.feature_maps] == ["unet1-label_free.png", "unet3-fluorescence.png",
                                                         "unet3-label_free.png"]
    assert len(evaluation.panels) == 3
    assert [p.name for p in evaluation.csv_files()] == ["capacity.csv", "learnable.csv", "comparisons.csv",
                                                        "units.csv"]
    assert evaluation.verdict["sentences"] == list(evaluation.manifest.verdict)
    assert evaluation.family == data.FAMILY


def test_summary_and_replicate_rows_of_the_capacity_table(data):
    capacity = data.cls_capacity()
    summary, single = summary_rows(capacity), replicate_rows(capacity)
    assert len(summary) == 8 and summary["replicate"].isna().all() and (summary["replicates"] == 3).all()
    assert len(single) == 8 * data.REPLICATES and list(single["replicate"][:3]) == [0, 1, 2]
    old = capacity[capacity["replicate"].isna()].drop(columns=["replicate"])  # one training per network
    assert len(summary_rows(old)) == 8 and replicate_rows(old).empty


def test_the_family_falls_back_to_the_comparisons_without_verdict_json(data, tmp_path):
    comparisons = data.comparisons("classification")
    folder = data.write_evaluation(tmp_path / "c", "classification", {"comparisons": comparisons})
    (folder / "verdict.json").unlink()
    evaluation = read_evaluation(folder)
    assert evaluation.verdict == {}
    assert evaluation.family.startswith("Holm's correction within each of the families 'virtual_effunet auc capacity', "
                                        "'virtual_effunet auc train_size', 'virtual_pix2pixhd auc capacity'")


def test_an_unreadable_verdict_is_refused(data, tmp_path):
    folder = data.write_evaluation(tmp_path / "c", "classification", {"capacity": data.cls_capacity()})
    (folder / "verdict.json").write_text("{not json")
    with pytest.raises(InputDataError, match=r"verdict.json: not readable JSON \(JSONDecodeError\); expected the "
                                             r"verdict of evaluate"):
        read_evaluation(folder)
    (folder / "verdict.json").write_text("[1, 2]")
    with pytest.raises(InputDataError, match=r"verdict.json: found a JSON list; expected an object"):
        read_evaluation(folder)


def test_a_capacity_only_run_and_empty_analysis_tables_are_absent_not_errors(data, tmp_path):
    folder = tmp_path / "cls"
    data.write_evaluation(folder, "classification", {"capacity": data.cls_capacity()})
    (folder / "embeddings.csv").write_text("\n")  # what evaluate writes for a learnable-only run
    evaluation = read_evaluation(folder)
    assert list(evaluation.tables) == ["capacity"] and evaluation.table("learnable") is None


def test_a_folder_without_its_manifest_is_refused(report_folders, tmp_path):
    evaluations, _ = report_folders
    broken = tmp_path / "broken"
    shutil.copytree(evaluations["classification"], broken)
    (broken / "manifest.json").unlink()
    with pytest.raises(InputDataError, match=r"broken: no manifest.json .*expected the evaluate output of the "
                                             r"classification task"):
        read_evaluation(broken, "classification")
    with pytest.raises(InputDataError, match=r"nowhere: no such folder; expected an evaluate output"):
        read_evaluation(tmp_path / "nowhere")


def test_another_stage_task_or_dataset_is_refused(report_folders):
    evaluations, stain = report_folders
    with pytest.raises(InputDataError, match=r"stain-segmentation: the output of stage 'stain_report'; expected the "
                                             r"evaluate output of the segmentation task"):
        read_evaluation(stain["segmentation"], "segmentation")
    with pytest.raises(InputDataError, match=r"evaluate-classification: the evaluation of the classification task; "
                                             r"expected the evaluate output of the segmentation task"):
        read_evaluation(evaluations["classification"], "segmentation")
    with pytest.raises(InputDataError, match=r"the output of stage 'evaluate'; expected the stain_report output"):
        read_stain_quality(evaluations["classification"], "classification")
    with pytest.raises(InputDataError, match=r"the stain_report of the segmentation dataset; expected the "
                                             r"stain_report output of the classification dataset"):
        read_stain_quality(stain["segmentation"], "classification")


def test_a_stain_report_names_its_dataset(report_folders):
    _, stain = report_folders
    quality = read_stain_quality(stain["classification"])
    assert quality.kind == "classification" and len(quality.summary) == 24 and quality.panels.is_file()


def test_a_table_without_its_columns_or_unreadable_is_refused(data, tmp_path):
    folder = tmp_path / "seg"
    data.write_evaluation(folder, "segmentation", {"capacity": data.seg_capacity().drop(columns=["dice_ci_high"])})
    with pytest.raises(InputDataError, match=r"capacity.csv: no column dice_ci_high; expected the columns"):
        read_evaluation(folder)
    old = tmp_path / "old"  # tables of the format before replicates
    data.write_evaluation(old, "classification", {"units": data.units("classification").drop(columns=["ended",
                                                                                                      "init_seed"])})
    with pytest.raises(InputDataError, match=r"units.csv: no column ended, init_seed; expected the columns"):
        read_evaluation(old)
    (tmp_path / "bad.csv").write_bytes(b"a,b\n\xff\xfe,1\n")
    with pytest.raises(InputDataError, match=r"bad.csv: not a readable CSV table"):
        read_table(tmp_path / "bad.csv")


def test_a_garbled_manifest_is_refused(report_folders):
    evaluations, _ = report_folders
    folder = evaluations["segmentation"]
    (folder / "manifest.json").write_text("{not json")
    with pytest.raises(InputDataError, match=r"the output of stage None; expected"):
        read_evaluation(folder)
    (folder / "manifest.json").write_text(json.dumps({"stage": "evaluate"}))
    with pytest.raises(InputDataError, match=r"manifest.json: field '.*' is required but missing"):
        read_evaluation(folder)


def test_names_of_inputs_are_tasks_or_datasets():
    check_names(["segmentation"], ("segmentation", "classification"), "evaluations of")
    with pytest.raises(InputDataError, match=r"evaluations of \['seg'\]: expected names among segmentation, "
                                             r"classification"):
        check_names(["seg"], ("segmentation", "classification"), "evaluations of")
