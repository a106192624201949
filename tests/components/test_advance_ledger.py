"""The advance_ledger component body, called directly after detect_acquisitions and publish_stainers."""

import pytest
from kfp import dsl

from stainworth.components.advance_ledger import advance_ledger
from stainworth.contracts.retrain import RetrainConfig
from stainworth.retrain.ledger import read_ledger
from stainworth.store import open_store

from .conftest import RETRAIN_CONFIG


def test_the_component_records_the_acquisitions_and_the_published_versions(retrain_outputs, tmp_path):
    store_uri, detection, _, published = retrain_outputs
    ledger = dsl.Artifact(name="ledger", uri=str(tmp_path / "ledger"))
    advance_ledger.python_func(config=RETRAIN_CONFIG, store_uri=store_uri, run="run-1", detection=detection,
                               ledger=ledger, classification=published)
    recorded = read_ledger(open_store(store_uri), RetrainConfig.model_validate(RETRAIN_CONFIG).ledger_key)
    assert sorted(recorded.processed) == ["a1", "a2"] and [run.run for run in recorded.runs] == ["run-1"]
    assert recorded.runs[0].models == {"classification/efficientunet": "v1", "classification/pix2pixhd": "v1"}
    assert ledger.metadata["stage"] == "advance_ledger"


def test_a_missing_detection_ends_with_one_line_and_the_ledger_untouched(tmp_path, capsys):
    store_uri = f"file://{tmp_path}/store"
    with pytest.raises(SystemExit) as ended:
        advance_ledger.python_func(config=RETRAIN_CONFIG, store_uri=store_uri, run="run-1",
                                   detection=dsl.Artifact(name="detection", uri=str(tmp_path / "nothing")),
                                   ledger=dsl.Artifact(name="ledger", uri=str(tmp_path / "ledger")))
    error = capsys.readouterr().err.strip()
    assert ended.value.code == 2 and "nothing" in error and "\n" not in error
    assert not open_store(store_uri).exists(RetrainConfig.model_validate(RETRAIN_CONFIG).ledger_key)
