"""Model files by URI: a plain path, a file:// path or an s3:// object; a bad one is one line naming its field."""

import pytest

from stainworth.errors import InputDataError
from stainworth.store.model_file import fetch_model_file

FIELD = "tasks.classification.training.weights_uris.resnet18"


def test_local_and_file_uris_are_used_in_place(tmp_path):
    model = tmp_path / "weights.pt"
    model.write_bytes(b"weights")
    assert fetch_model_file(str(model), tmp_path / "scratch", field=FIELD) == model
    assert fetch_model_file(f"file://{model}", tmp_path / "scratch", field=FIELD) == model


def test_a_missing_file_names_the_field_it_came_from(tmp_path):
    with pytest.raises(InputDataError, match=rf"^{FIELD}: .*missing.pt does not exist$"):
        fetch_model_file(str(tmp_path / "missing.pt"), tmp_path, field=FIELD)


def test_an_s3_uri_without_a_key_names_the_field(tmp_path):
    with pytest.raises(InputDataError, match=rf"^{FIELD} 's3://bucket': expected s3://bucket/key/of/model$"):
        fetch_model_file("s3://bucket", tmp_path, field=FIELD)
