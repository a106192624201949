"""The label component body, called directly on the smoke phantom's registered fields."""

import pytest
from kfp import dsl

from stainworth.components.label import label
from stainworth.fields import LABELS

from .conftest import per_field_output


def test_the_component_labels_every_field_and_scores_it_against_the_truth(prepared_outputs):
    made, _ = prepared_outputs
    manifest = per_field_output(made, "labelled", "registered", LABELS)
    assert manifest.counts["nuclei"] > 0 and made["labelled"].metadata["counts"] == manifest.counts
    assert 0.5 < manifest.metrics["mean_dice"] <= 1


def test_a_missing_cellpose_model_ends_with_one_line(prepared_outputs, smoke_prepare, tmp_path, capsys):
    made, store_uri = prepared_outputs
    config, _ = smoke_prepare
    config = config | {"label": config["label"] | {"method": "cellpose", "model_uri": str(tmp_path / "no.pt")}}
    with pytest.raises(SystemExit) as ended:
        label.python_func(config=config, store_uri=store_uri, stitched=made["stitched"],
                          registered=made["registered"], labelled=dsl.Dataset(name="labelled",
                                                                               uri=str(tmp_path / "out")))
    assert ended.value.code == 2 and "label.model_uri" in capsys.readouterr().err
    assert not (tmp_path / "out" / "manifest.json").exists()
