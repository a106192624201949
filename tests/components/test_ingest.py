"""The ingest component body, called directly: the smoke phantom rendered into a ``file://`` store."""

import json
from pathlib import Path

import pytest
from kfp import dsl

from stainworth.components.ingest import ingest
from stainworth.store import open_store


def test_the_component_names_the_acquisitions_it_published(prepared_outputs, smoke_prepare):
    made, store_uri = prepared_outputs
    config, simulate_config = smoke_prepare
    published = json.loads((Path(made["ingested"].path) / "acquisitions.json").read_text())
    assert len(published) == simulate_config["fields_per_condition"] * len(simulate_config["conditions"])
    store = open_store(store_uri)
    assert all(store.is_complete(f"{config['source']['store_prefix']}/{name}") for name in published)
    assert made["ingested"].metadata["counts"]["acquisitions"] == len(published)


def test_a_bad_simulate_config_ends_with_one_line(smoke_prepare, tmp_path, capsys):
    config, simulate_config = smoke_prepare
    with pytest.raises(SystemExit) as ended:
        ingest.python_func(config=config, simulate_config=simulate_config | {"conditions": ["sleepy"]},
                           store_uri=f"file://{tmp_path}/store",
                           ingested=dsl.Dataset(name="ingested", uri=str(tmp_path / "out")))
    assert ended.value.code == 2 and "simulate config: field 'conditions" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
