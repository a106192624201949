"""The reference-observer command: a quick run end to end, and bad input."""

import pandas as pd
import pytest

from stainworth.analysis.nucleus_features import FEATURES
from stainworth.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    assert main(["reference-observers", "--quick", "--out", str(out)]) == 0
    return out


def test_quick_run_writes_both_tables(quick_run):
    frame = pd.read_csv(quick_run / "reference_observers.csv")
    assert sorted(frame["setting"].unique()) == ["default", "marker_only:off"]
    observers = {f"feature:{name}" for name in FEATURES} | {"cho", "resnet18", "resnet18:r1", "classical"}
    assert set(frame["observer"]) == observers
    assert frame["estimate"].between(0, 1).all()
    assert (frame["ci_low"] <= frame["estimate"]).all() and (frame["estimate"] <= frame["ci_high"]).all()
    assert set(frame.loc[frame["observer"] == "classical", "modality"]) == {"label_free", "h3k27me3", "lamin_a_c"}
    text = (quick_run / "reference_observers.md").read_text()
    assert "| `default` | `h3k27me3` |" in text and "capped at 3 epochs" in text


def test_marker_only_settings_leave_the_phase_observers_unchanged(quick_run):
    frame = pd.read_csv(quick_run / "reference_observers.csv")
    phase = frame[frame["modality"] == "label_free"].set_index(["observer", "setting"])["estimate"].unstack()
    assert (phase["default"] == phase["marker_only:off"]).all()
    marker = frame[frame["modality"] == "h3k27me3"].set_index(["observer", "setting"])["estimate"].unstack()
    assert (marker.loc["feature:mean", "default"] != marker.loc["feature:mean", "marker_only:off"])


def test_a_network_is_trained_once_per_distinct_set_of_images(quick_run):
    frame = pd.read_csv(quick_run / "reference_observers.csv").fillna({"note": ""})
    networks = frame[frame["observer"].str.startswith("resnet18") & (frame["setting"] == "marker_only:off")]
    reused = networks["note"].str.startswith("same images as `default`: its trainings")
    assert reused[networks["modality"] == "label_free"].all()  # the phase images are those of the default
    assert not reused[networks["modality"] == "h3k27me3"].any()
    # each distinct training is kept for a re-run to resume from: phase once, the marker per setting
    assert len(list((quick_run / "trainings").glob("*.npz"))) == 3


@pytest.mark.parametrize(("argv", "pattern"), [
    (["--nuclei-per-class", "5"], r"nuclei per class: found 5; expected an integer >= 40"),
    (["--replicates", "0"], r"replicates: found 0; expected an integer >= 1"),
    (["--seed", "-1"], r"seed: found -1; expected an integer >= 0"),
    (["--profile", "tiny"], r"profile 'tiny': unknown"),
])
def test_bad_input_one_line_exit_2(argv, pattern, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["reference-observers", "--quick", "--out", str(out), *argv]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("stainworth: error: ")
    assert __import__("re").search(pattern, error)
    assert not out.exists()


def test_output_that_is_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("keep")
    assert main(["reference-observers", "--quick", "--out", str(target)]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err
    assert target.read_text() == "keep"
