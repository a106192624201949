"""The code base stays ruff-clean (with docstring rules), type-checks with mypy and keeps its layers."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run(command):
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_clean():
    result = run([str(BIN / "ruff"), "check", "shared", "components", "pipelines", "tests"])
    assert result.returncode == 0, result.stdout[-4000:]


def test_mypy_clean():
    result = run([str(BIN / "mypy"), "shared/stainworth"])
    assert result.returncode == 0, result.stdout[-4000:]


def test_import_layers_kept():
    """The import-linter contracts of pyproject.toml (docs/architecture.md) hold."""
    result = run(["make", "--no-print-directory", "lint-imports", f"VENV={BIN.parent}"])
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
