"""The register component body, called directly on the stitch component's smoke phantom mosaics."""

import pytest
from kfp import dsl

from stainworth.components.register import register
from stainworth.fields import REGISTERED

from .conftest import per_field_output


def test_the_component_registers_every_stitched_field(prepared_outputs):
    made, _ = prepared_outputs
    manifest = per_field_output(made, "registered", "stitched", REGISTERED)
    assert made["registered"].metadata["metrics"] == manifest.metrics
    assert manifest.metrics["mean_registration_error_px_rms"] < 2.0


def test_a_channel_the_fields_lack_ends_with_one_line(prepared_outputs, smoke_prepare, tmp_path, capsys):
    made, store_uri = prepared_outputs
    config, _ = smoke_prepare
    config = config | {"registration": config["registration"] | {"moving_channel": "dapi"}}
    with pytest.raises(SystemExit) as ended:
        register.python_func(config=config, store_uri=store_uri, stitched=made["stitched"],
                             registered=dsl.Dataset(name="registered", uri=str(tmp_path / "out")))
    assert ended.value.code == 2
    assert "registration.moving_channel 'dapi' is not among its fluorescence channels" in capsys.readouterr().err
    assert not (tmp_path / "out" / "manifest.json").exists()
