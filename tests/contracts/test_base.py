import pytest
from pydantic import Field

from stainworth.contracts.base import StrictModel, config_hash, file_sha256, validate_model
from stainworth.errors import ConfigError


class Example(StrictModel):
    size: int = Field(default=8, ge=1)
    name: str = "x"


def test_config_hash_is_stable_and_sensitive():
    assert config_hash(Example()) == config_hash(Example(size=8))
    assert config_hash(Example()) != config_hash(Example(size=9))


def test_validate_model_coerces_floats_from_kfp():
    assert validate_model(Example, {"size": 4.0}, where="x").size == 4


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        ({"size": 0}, r"^example config: field 'size': Input should be greater than or equal to 1; found 0$"),
        ({"sise": 3}, r"^example config: unknown field 'sise' \(remove it or check its spelling\)$"),
        ({"size": "big"}, r"field 'size'.*found 'big'"),
    ],
)
def test_validate_model_one_line_naming_the_field(data, pattern):
    with pytest.raises(ConfigError, match=pattern) as caught:
        validate_model(Example, data, where="example config")
    assert "\n" not in str(caught.value)


def test_file_sha256(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"abc")
    assert file_sha256(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
