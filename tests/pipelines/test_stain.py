"""The stain pipeline end to end on smoke through kfp.local: both stainers on both datasets, reports."""

from stainworth.contracts.fields import DatasetManifest
from stainworth.contracts.manifest import OutputManifest, read_manifest
from stainworth.launch.local import run_local
from stainworth.profiles import load_profile


def test_stain_smoke_trains_applies_and_reports_for_both_datasets(tmp_path):
    store_uri = f"file://{tmp_path}/store"
    run = run_local("stain", load_profile("smoke"), runs_dir=tmp_path / "runs", store_uri=store_uri, echo=False)
    assert set(run.outputs) == {"segmentation_report", "classification_report"}
    for output in run.outputs.values():
        report = read_manifest(OutputManifest, output)
        assert report.stage == "stain_report"
        for method in ("identity", "linear", "pix2pixhd", "efficientunet"):
            assert f"{method}.ssim.mean" in report.metrics
    log = (run.run_dir / "run.log").read_text()
    assert log.count("train_stainer epoch 1/1") == 4 and "apply_stainer" in log
    virtual = [path for path in run.run_dir.rglob("manifest.json") if path.parent.name == "virtual"]
    assert len(virtual) == 4
    assert all(read_manifest(DatasetManifest, path.parent).stage == "apply_stainer" for path in virtual)
