"""The task pipelines end to end on smoke through kfp.local: stainers, the fan-out of units, the evaluation."""

from pathlib import Path

import pandas as pd

from stainworth.contracts.manifest import OutputManifest, read_manifest
from stainworth.contracts.task import EvaluationManifest
from stainworth.profiles import load_profile
from stainworth.runner.local import run_local


def test_cls_capacity_smoke_trains_every_unit_and_evaluates_them(tmp_path):
    profile = load_profile("smoke")
    sweep = profile.tasks.classification
    units = len(sweep.architectures) * len(sweep.modalities)
    run = run_local("cls_capacity", profile, runs_dir=tmp_path / "runs", store_uri=f"file://{tmp_path}/store",
                    echo=False)
    assert set(run.outputs) == {"classification_report", "classification_evaluation"}
    assert read_manifest(OutputManifest, run.outputs["classification_report"]).stage == "stain_report"
    folder = Path(run.outputs["classification_evaluation"])
    evaluation = read_manifest(EvaluationManifest, folder)
    assert evaluation.stage == "evaluate" and evaluation.task == "classification"
    assert evaluation.counts["units"] == evaluation.counts["capacity_units"] == units
    capacity = pd.read_csv(folder / "capacity.csv")
    assert len(capacity) == units
    assert set(zip(capacity["architecture"], capacity["modality"], strict=True)) == {
        (architecture, modality) for architecture in sweep.architectures for modality in sweep.modalities}
    assert (folder / "verdict.md").read_text().strip()
    log = (run.run_dir / "run.log").read_text()
    assert all(f"train_task run {k}/{units} " in log for k in range(1, units + 1))
    assert log.count("train_stainer epoch 1/1") == 2
