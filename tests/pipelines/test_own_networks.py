"""Networks of your own through a whole smoke sweep (kfp.local): trained, evaluated, marked in the report, named in
the verdict."""

from pathlib import Path

import pandas as pd
import pytest

from stainworth.contracts.manifest import read_manifest
from stainworth.contracts.task import EvaluationManifest, TaskGroupManifest, architecture_slug
from stainworth.launch.local import run_local
from stainworth.profiles import load_profile

CASES = {
    "cls_capacity": ("classification", ["cnn1", "py:stainworth.tasks.examples:tiny_cnn", "timm:mobilenetv3_small_050"]),
    "seg_capacity": ("segmentation", ["unet1", "py:stainworth.tasks.examples:tiny_segmenter", "smp:Unet/resnet18"]),
}


@pytest.mark.parametrize("pipeline", sorted(CASES))
def test_a_smoke_sweep_trains_networks_of_your_own_on_the_capacity_axis(pipeline, tmp_path):
    task, names = CASES[pipeline]
    listed = ", ".join(f"'{name}'" for name in names)
    profile = load_profile("smoke", [f"tasks.{task}.architectures=[{listed}]",
                                     f"tasks.{task}.modalities=[label_free, virtual_effunet]"])
    run = run_local(pipeline, profile, runs_dir=tmp_path / "runs", store_uri=f"file://{tmp_path}/store", echo=False)
    folder = Path(run.outputs[f"{task}_evaluation"])
    evaluation = read_manifest(EvaluationManifest, folder)
    assert evaluation.counts["capacity_units"] == len(names) * 2 * profile.tasks.sweep(task).replicates
    capacity = pd.read_csv(folder / "capacity.csv")
    summary = capacity[capacity["replicate"].isna()].drop_duplicates("architecture")
    assert list(summary["architecture"]) == sorted(names, key=lambda name: int(
        summary.set_index("architecture").at[name, "capacity"]))  # on one axis, by trainable parameters
    assert dict(zip(summary["architecture"], summary["network_source"], strict=True)) == {
        name: "builtin" if ":" not in name else "user" for name in names}
    units = pd.read_csv(folder / "units.csv")
    assert set(units["architecture"]) == set(names) and (units["network_source"] == "user").sum() == len(units) * 2 // 3
    folders = {name for group in run.run_dir.rglob("train-task/unit") if (group / "manifest.json").is_file()
               for name in read_manifest(TaskGroupManifest, group).units}
    assert {architecture_slug(name) for name in names[1:]} <= {name.split("-")[1] for name in folders}
    verdict = (folder / "verdict.md").read_text()
    own = [name for name in names if ":" in name]
    assert all(name in verdict for name in own) and "Networks of your own on the capacity axis" in verdict
    assert f"your {names[-1]}" in verdict  # the largest capacity is the user's network
    report = Path(run.outputs["study_report"])
    summary_md = (report / "summary.md").read_text()
    assert all(f"{name} (yours)" in summary_md for name in own) and f"{names[0]} (yours)" not in summary_md
    assert all(f"{name} (yours)" in (report / "report.html").read_text() for name in own)
