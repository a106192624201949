"""The simulate component body, called directly: the smoke phantom published to a ``file://`` store."""

import pandas as pd
import pytest
from kfp import dsl

from stainworth.components.simulate import simulate
from stainworth.store import open_store


def test_the_component_publishes_every_acquisition_and_indexes_them(smoke_prepare, tmp_path):
    _, config = smoke_prepare
    out = dsl.Dataset(name="acquisitions", uri=str(tmp_path / "out"))
    simulate.python_func(config=config, store_uri=f"file://{tmp_path}/store", acquisitions=out)
    index = pd.read_csv(tmp_path / "out" / "acquisitions.csv")
    assert len(index) == config["fields_per_condition"] * len(config["conditions"])
    assert out.metadata["counts"]["acquisitions"] == len(index)
    store = open_store(f"file://{tmp_path}/store")
    assert sorted(store.complete_folders(config["store_prefix"])) == sorted(index["acquisition_id"])
    assert out.metadata["stage"] == "simulate"


def test_a_bad_config_ends_with_one_line_and_nothing_published(smoke_prepare, tmp_path, capsys):
    _, config = smoke_prepare
    with pytest.raises(SystemExit) as ended:
        simulate.python_func(config=config | {"fields_per_condition": 0}, store_uri=f"file://{tmp_path}/store",
                             acquisitions=dsl.Dataset(name="acquisitions", uri=str(tmp_path / "out")))
    assert ended.value.code == 2 and "simulate config: field 'fields_per_condition'" in capsys.readouterr().err
    assert not (tmp_path / "store").exists() and not (tmp_path / "out").exists()
