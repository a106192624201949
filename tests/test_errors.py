"""User-facing errors: one line, exit code 2, and the builtin a Python caller would catch."""

import pytest

from stainworth import errors


@pytest.mark.parametrize("kind, builtin", [
    (errors.ConfigError, ValueError), (errors.InputDataError, ValueError), (errors.MissingKeyError, LookupError),
    (errors.StoreUnreachableError, ConnectionError), (errors.CredentialsError, PermissionError),
    (errors.PipelineError, RuntimeError), (errors.TrainingError, RuntimeError),
])
def test_each_error_is_one_line_with_exit_code_2_and_its_builtin(kind, builtin):
    error = kind("profile.yaml:\n  field  x: found 3;\texpected 2")
    assert isinstance(error, builtin) and isinstance(error, errors.StainworthError)
    assert str(error) == "profile.yaml: field x: found 3; expected 2" and error.exit_code == 2
    with pytest.raises(builtin):
        raise error


def test_run_command_prints_the_line_and_returns_its_exit_code(capsys):
    def failing():
        raise errors.InputDataError("a.tif: not a readable TIFF; expected an image")

    assert errors.run_command(failing) == 2
    assert capsys.readouterr().err == "stainworth: error: a.tif: not a readable TIFF; expected an image\n"
