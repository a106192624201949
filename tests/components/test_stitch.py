"""The stitch component body, called directly on the ingest component's smoke phantom acquisitions."""

import json
from pathlib import Path

import pytest
from kfp import dsl

from stainworth.components.stitch import stitch
from stainworth.contracts.fields import FieldsManifest
from stainworth.contracts.manifest import read_manifest
from stainworth.fields import MOSAIC, TRUTH, field_path


def test_the_component_stitches_every_ingested_acquisition(prepared_outputs):
    made, _ = prepared_outputs
    stitched = Path(made["stitched"].path)
    manifest = read_manifest(FieldsManifest, stitched)
    assert sorted(manifest.fields) == sorted(json.loads((Path(made["ingested"].path) / "acquisitions.json")
                                                        .read_text()))
    assert all(field_path(stitched, field_id, name).is_dir()
               for field_id in manifest.fields for name in (MOSAIC, TRUTH))
    assert made["stitched"].metadata["stage"] == "stitch"
    assert made["stitched"].metadata["metrics"]["mean_position_error_px_max"] <= 1.0


def test_an_unfinished_ingest_ends_with_one_line(smoke_prepare, tmp_path, capsys):
    config, _ = smoke_prepare
    with pytest.raises(SystemExit) as ended:
        stitch.python_func(config=config, store_uri=f"file://{tmp_path}/store",
                           ingested=dsl.Dataset(name="ingested", uri=str(tmp_path / "nothing")),
                           stitched=dsl.Dataset(name="stitched", uri=str(tmp_path / "out")))
    error = capsys.readouterr().err.strip()
    assert ended.value.code == 2 and error.startswith("stainworth-error:") and "\n" not in error
    assert "nothing" in error and not (tmp_path / "out").exists()
