"""The acquisition_groups component body, called directly on the ingest component's smoke phantom acquisitions."""

import json
from pathlib import Path

import pytest
from kfp import dsl

from stainworth.components.acquisition_groups import acquisition_groups


@pytest.mark.parametrize(("grouping", "slots", "branches"), [(None, 2, 2), ("acquisition", 1, 2), ("slots", 1, 1),
                                                             ("slots", 5, 2)])
def test_the_component_deals_the_ingested_acquisitions_to_branches(prepared_outputs, smoke_prepare, grouping, slots,
                                                                   branches):
    made, store_uri = prepared_outputs
    config, _ = smoke_prepare
    groups = acquisition_groups.python_func(config=config | {"grouping": grouping}, store_uri=store_uri,
                                            ingested=made["ingested"], slots=slots)
    ingested = json.loads((Path(made["ingested"].path) / "acquisitions.json").read_text())
    assert len(groups) == branches and sorted(a for group in groups for a in group) == sorted(ingested)


def test_an_unknown_grouping_ends_with_one_line(prepared_outputs, smoke_prepare, capsys):
    made, store_uri = prepared_outputs
    config, _ = smoke_prepare
    with pytest.raises(SystemExit) as ended:
        acquisition_groups.python_func(config=config | {"grouping": "wells"}, store_uri=store_uri,
                                       ingested=made["ingested"], slots=2)
    error = capsys.readouterr().err.strip()
    assert ended.value.code == 2 and "grouping" in error and "\n" not in error


def test_an_unfinished_ingest_ends_with_one_line(smoke_prepare, tmp_path, capsys):
    config, _ = smoke_prepare
    with pytest.raises(SystemExit) as ended:
        acquisition_groups.python_func(config=config, store_uri=f"file://{tmp_path}/store",
                                       ingested=dsl.Dataset(name="ingested", uri=str(tmp_path / "nothing")), slots=2)
    assert ended.value.code == 2 and "nothing" in capsys.readouterr().err
