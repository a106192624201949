"""The report's configuration and manifest."""

import pytest

from stainworth.contracts.base import validate_model
from stainworth.contracts.report import ReportConfig, ReportManifest, redact
from stainworth.errors import ConfigError


def test_secrets_never_reach_the_configuration():
    config = ReportConfig(settings={"cluster": {"MINIO_SECRET_KEY": "s3cr3t", "api_token": "t", "minio_secret": "name"},
                                    "list": [{"password": "p"}], "store_uri": "s3://bucket/x"})
    assert config.settings == {"cluster": {"MINIO_SECRET_KEY": "(redacted)", "api_token": "(redacted)",
                                           "minio_secret": "name"},
                               "list": [{"password": "(redacted)"}], "store_uri": "s3://bucket/x"}
    assert redact({"a": 1}) == {"a": 1}


def test_unknown_fields_and_sources_are_refused():
    with pytest.raises(ConfigError, match=r"report config: unknown field 'title'"):
        validate_model(ReportConfig, {"title": "x"}, where="report config")
    with pytest.raises(ConfigError, match=r"report config: field 'data_source': .*'phantom' or 'real'"):
        validate_model(ReportConfig, {"data_source": "lab"}, where="report config")


def test_the_manifest_names_its_stage_tasks_and_datasets():
    manifest = ReportManifest(config={}, config_hash="0" * 64, data_source="real", tasks=["classification"],
                              datasets=["segmentation"], verdict={"classification": ["a"]})
    assert manifest.stage == "report"
    with pytest.raises(ValueError, match="tasks"):
        ReportManifest(config={}, config_hash="0" * 64, data_source="real", tasks=["detection"])
