"""The detect_acquisitions component body, called directly on a ``file://`` store with three acquisitions."""

import pytest
from kfp import dsl

from stainworth.components.detect_acquisitions import detect_acquisitions
from stainworth.stages.retrain import read_detection

from .conftest import RETRAIN_CONFIG


def test_the_component_returns_how_many_acquisitions_are_new(retrain_outputs):
    _, detection, count, _ = retrain_outputs
    detected = read_detection(detection.path)
    assert count == 2 == len(detected.pending) and sorted(detected.pending) == ["a1", "a2"]
    assert detection.metadata["counts"] == {"pending": 2, "training": 2, "holdout": 1}


def test_a_bad_config_ends_with_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as ended:
        detect_acquisitions.python_func(config=RETRAIN_CONFIG | {"holdout_acquisitions": "hold"},
                                        store_uri=f"file://{tmp_path}/store",
                                        detection=dsl.Artifact(name="detection", uri=str(tmp_path / "out")))
    assert ended.value.code == 2 and "retrain config: field 'holdout_acquisitions'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
