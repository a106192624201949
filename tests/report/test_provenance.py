"""Profile, data source, configuration text and input hashes."""

from stainworth.contracts.report import ReportConfig
from stainworth.report.inputs import read_evaluation, read_stain_quality
from stainworth.report.provenance import (
    configuration_text,
    data_source,
    input_hashes,
    profile_name,
    profile_seeds,
    provenance_table,
    seeds_sentence,
)


def test_data_source_given_or_read_from_the_prepare_settings():
    assert data_source(ReportConfig(data_source="phantom")) == "phantom (simulated acquisitions)"
    assert data_source(ReportConfig(data_source="real")) == "real"
    assert data_source(ReportConfig()) == "not recorded"
    assert data_source(ReportConfig(settings={"prepare": {}})) == "phantom (simulated acquisitions)"
    assert data_source(ReportConfig(settings={"prepare": {"source": {"ingest_spec": "lab/ingest.yaml"}}})) == \
        "real (ingested from lab/ingest.yaml)"
    assert data_source(ReportConfig(settings={"prepare": {"source": {"phantom": False, "store_prefix": "acq"}}})) == \
        "real (acquisitions under acq in the store)"


def test_every_seed_of_the_profile_is_listed_with_its_path():
    settings = {"simulate": {"seed": 3}, "prepare": {"extract": {"seed": 2, "counts": {"train": 5}}},
                "tasks": {"segmentation": {"training": {"seed": 0, "batch_size": 4}}}, "stain": {"init_seed": 9}}
    assert profile_seeds(settings) == [("simulate.seed", 3), ("prepare.extract.seed", 2),
                                       ("tasks.segmentation.training.seed", 0), ("stain.init_seed", 9)]
    assert seeds_sentence(ReportConfig(settings=settings)).startswith("Seeds of the profile: simulate.seed = 3, "
                                                                      "prepare.extract.seed = 2, ")
    assert seeds_sentence(ReportConfig()) == "Seeds of the profile: not recorded (no settings given to the report)."


def test_profile_name():
    assert profile_name(ReportConfig(profile="mini")) == "mini"
    assert profile_name(ReportConfig(settings={"name": "paper"})) == "paper"
    assert profile_name(ReportConfig()) == "not recorded"


def test_configuration_shows_the_given_settings_then_what_the_inputs_recorded(report_folders):
    evaluations, stain = report_folders
    evaluation = read_evaluation(evaluations["classification"])
    quality = read_stain_quality(stain["segmentation"])
    text = configuration_text(ReportConfig(profile="mini", settings={"tasks": {"x": 1}, "password": "hunter2"}),
                              [evaluation], [quality])
    blocks = text.split("\n\n")
    assert blocks[0] == "# given to the report (profile mini)\ntasks:\n  x: 1\npassword: (redacted)"
    assert blocks[1].startswith("# evaluate classification: the tasks configuration its units were trained with")
    assert "  architectures:\n  - cnn1\n  - resnet18" in blocks[1]
    assert blocks[2] == "# stain_report segmentation: its configuration\npanels: 6"
    assert "hunter2" not in text


def test_provenance_lists_every_input_and_what_it_read(report_folders):
    evaluations, stain = report_folders
    evaluation = read_evaluation(evaluations["segmentation"])
    quality = read_stain_quality(stain["classification"])
    table = provenance_table([evaluation], [quality])
    assert list(table["input"]) == ["evaluation of segmentation", "image quality of the classification dataset"]
    assert table.iloc[0]["content hash"] == evaluation.manifest.content_hash and table.iloc[1]["inputs"] == "3"
    hashes = input_hashes([evaluation], [quality])
    assert len(hashes) == 4 and hashes.iloc[0]["content hash"] == "1" * 64
