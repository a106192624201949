"""The stain_report component body, called directly on both stainers' virtual phantom nuclei."""

from pathlib import Path

import pandas as pd
import pytest
from kfp import dsl

from stainworth.components.stain_report import stain_report

from .conftest import STAIN_CONFIG


def call(phantom_datasets, virtual, out, kind="classification"):
    report = dsl.Dataset(name="report", uri=str(out))
    stain_report.python_func(config=STAIN_CONFIG, kind=kind,
                             datasets=dsl.Dataset(name="datasets", uri=str(phantom_datasets)), report=report,
                             **virtual)
    return report


def test_the_component_compares_both_stainers_with_the_baselines(applied_stainers, phantom_datasets, tmp_path):
    report = call(phantom_datasets, applied_stainers, tmp_path / "report")
    folder = Path(report.path)
    summary = pd.read_csv(folder / "quality_summary.csv")
    assert (folder / "panels.png").stat().st_size > 0
    assert {"pix2pixhd", "efficientunet", "identity"} <= set(summary["method"])
    assert (summary["n"] == 6).all()  # the phantom classification dataset's test split
    assert report.metadata["stage"] == "stain_report"


def test_virtual_data_of_the_other_dataset_ends_with_one_line(applied_stainers, phantom_datasets, tmp_path, capsys):
    with pytest.raises(SystemExit) as ended:
        call(phantom_datasets, applied_stainers, tmp_path / "report", kind="segmentation")
    error = capsys.readouterr().err.strip()
    assert ended.value.code == 2 and error.startswith("stainworth-error:") and "\n" not in error
    assert not (tmp_path / "report" / "manifest.json").exists()
