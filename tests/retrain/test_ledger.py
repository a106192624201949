"""The ledger: detection by content hash, holdout excluded, advanced once, on a file store and the S3 server."""

import json

import pytest

from stainworth.contracts.manifest import OutputManifest, write_manifest
from stainworth.contracts.retrain import RetrainConfig
from stainworth.errors import ConfigError, InputDataError, StoreError
from stainworth.retrain.ledger import advance, detect, read_ledger

CONFIG = RetrainConfig(holdout_acquisitions=["hold-c", "hold-t"])


def add_acquisition(store, tmp_path, name, payload="tiles"):
    folder = tmp_path / "staging" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tile.bin").write_text(payload)
    write_manifest(OutputManifest(stage="ingest", config={}, config_hash="0" * 64), folder)
    store.publish_dir(folder, f"acquisitions/{name}")


@pytest.fixture
def filled(store, tmp_path):
    for name in ("hold-c", "hold-t", "a1", "a2"):
        add_acquisition(store, tmp_path, name)
    return store


def test_everything_but_the_holdout_is_new_at_first(filled):
    found = detect(filled, CONFIG)
    assert sorted(found.pending) == ["a1", "a2"] == found.training
    assert found.holdout == ["hold-c", "hold-t"] and found.ledger_processed == {}


def test_after_advancing_nothing_is_new_and_a_new_or_changed_acquisition_is(filled, tmp_path):
    advance(filled, CONFIG, detect(filled, CONFIG), run="run-1")
    assert detect(filled, CONFIG).pending == {}
    add_acquisition(filled, tmp_path, "a3")
    add_acquisition(filled, tmp_path, "a1", payload="re-acquired")
    found = detect(filled, CONFIG)
    assert sorted(found.pending) == ["a1", "a3"] and found.training == ["a1", "a2", "a3"]


def test_an_incomplete_acquisition_is_not_seen(filled, tmp_path):
    filled.put_bytes("acquisitions/a9/tile.bin", b"half uploaded")
    assert "a9" not in detect(filled, CONFIG).pending


def test_advancing_twice_records_once(filled):
    found = detect(filled, CONFIG)
    advance(filled, CONFIG, found, run="run-1", models={"segmentation/efficientunet": "v1"},
            promoted={"segmentation/efficientunet": True})
    again = advance(filled, CONFIG, found, run="run-1-retry")
    assert len(again.runs) == 1 and again.runs[0].run == "run-1"
    assert again.runs[0].models == {"segmentation/efficientunet": "v1"}
    assert read_ledger(filled, CONFIG.ledger_key) == again


def test_a_conflicting_ledger_is_not_overwritten(filled, tmp_path):
    found = detect(filled, CONFIG)
    add_acquisition(filled, tmp_path, "a1", payload="changed meanwhile")
    advance(filled, CONFIG, detect(filled, CONFIG), run="other")
    with pytest.raises(StoreError, match=r"acquisitions \['a1'\] were processed by another run"):
        advance(filled, CONFIG, found, run="late")


def test_no_holdout_or_a_missing_one_is_one_line(filled):
    with pytest.raises(InputDataError, match=r"^retrain.holdout_acquisitions: empty; expected .* \(the store has: "
                                             r"a1, a2, hold-c, hold-t\)$"):
        detect(filled, RetrainConfig())
    with pytest.raises(InputDataError, match=r"^retrain.holdout_acquisitions: \['gone'\] not complete under "):
        detect(filled, RetrainConfig(holdout_acquisitions=["gone"]))


def test_a_damaged_ledger_is_one_line(filled):
    filled.put_bytes(CONFIG.ledger_key, json.dumps({"processed": {"a1": 5}}).encode())
    with pytest.raises(ConfigError, match=r"ledger/ledger.json: field 'processed.a1'"):
        detect(filled, CONFIG)
