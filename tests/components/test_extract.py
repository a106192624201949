"""The extract component body, called directly on the label component's smoke phantom fields."""

from pathlib import Path

import pytest
from kfp import dsl

from stainworth.components.extract import extract
from stainworth.contracts.manifest import OutputManifest, read_manifest


@pytest.fixture(scope="module")
def extracted(prepared_outputs, smoke_prepare, tmp_path_factory):
    made, store_uri = prepared_outputs
    config, _ = smoke_prepare
    out = dsl.Dataset(name="datasets", uri=str(tmp_path_factory.mktemp("component-extract") / "datasets"))
    extract.python_func(config=config, store_uri=store_uri, stitched=made["stitched"],
                        registered=made["registered"], labelled=made["labelled"], datasets=out)
    return out, config


def test_the_component_writes_both_datasets_at_the_configured_sizes(extracted):
    out, config = extracted
    root = Path(out.path)
    assert (root / "segmentation").is_dir() and (root / "classification").is_dir()
    assert read_manifest(OutputManifest, root).stage == out.metadata["stage"] == "extract"
    counts = config["extract"]["segmentation"]["counts"]
    assert all(out.metadata["counts"][f"segmentation_{split}"] == counts[split] for split in counts)


def test_a_missing_upstream_output_ends_with_one_line(prepared_outputs, smoke_prepare, tmp_path, capsys):
    made, store_uri = prepared_outputs
    config, _ = smoke_prepare
    with pytest.raises(SystemExit) as ended:
        extract.python_func(config=config, store_uri=store_uri, stitched=made["stitched"],
                            registered=made["registered"],
                            labelled=dsl.Dataset(name="labelled", uri=str(tmp_path / "nothing")),
                            datasets=dsl.Dataset(name="datasets", uri=str(tmp_path / "out")))
    error = capsys.readouterr().err.strip()
    assert ended.value.code == 2 and "nothing" in error and "\n" not in error
    assert not (tmp_path / "out" / "manifest.json").exists()
