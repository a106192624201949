"""Stainers of your own through a whole smoke sweep (kfp.local): pre-computed images and an ONNX model exported
here, the study's stainers switched off; each becomes a modality in the units, the stain report, the tables,
the verdict and the report."""

from pathlib import Path

import numpy as np
import pandas as pd
import tifffile
import torch

from stainworth.contracts.acquisition import AcquisitionManifest
from stainworth.contracts.manifest import read_manifest
from stainworth.contracts.task import EvaluationManifest
from stainworth.io.acquisition import load_tile
from stainworth.launch.local import run_local
from stainworth.phantom.publish import simulate_acquisitions
from stainworth.profiles import load_profile


class Smooth(torch.nn.Module):
    """A 3x3 mean filter: a stainer that only blurs its input."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 1, 3, padding=1, bias=False)
        with torch.no_grad():
            self.conv.weight.fill_(1 / 9)

    def forward(self, x):
        return self.conv(x)


def test_a_smoke_sweep_compares_external_stainers_by_name(tmp_path):
    store_uri = f"file://{tmp_path}/store"
    profile = load_profile("smoke")
    simulate_acquisitions(profile.simulate, tmp_path / "simulated", store_uri=store_uri)  # the run renders the same
    precomputed = tmp_path / "precomputed"
    for folder in sorted((tmp_path / "store" / "acquisitions").iterdir()):
        manifest = read_manifest(AcquisitionManifest, folder)
        for tile in manifest.tiles:  # the square of the label-free tile: a stainer of another contrast
            path = precomputed / folder.name / tile.files["label_free"].replace(".ome.tif", ".tif")
            path.parent.mkdir(parents=True, exist_ok=True)
            tifffile.imwrite(path, np.square(load_tile(folder, tile, "label_free").astype(np.float32)))
    model = tmp_path / "smooth.onnx"
    torch.onnx.export(Smooth().eval(), torch.zeros(1, 1, 32, 32), str(model), dynamo=False, input_names=["x"],
                      output_names=["y"], dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}, "y": {0: "n", 2: "h", 3: "w"}})
    profile = load_profile("smoke", [
        "stain.builtin=[]", f"stain.external=[{{name: squared, images: '{precomputed}'}}, "
        f"{{name: smooth, model: '{model}'}}]", "tasks.classification.architectures=[cnn1]"])
    run = run_local("cls_capacity", profile, runs_dir=tmp_path / "runs", store_uri=store_uri, echo=False)

    modalities = ["label_free", "virtual_squared", "virtual_smooth", "fluorescence"]
    assert profile.tasks.classification.modalities == modalities
    assert not list(run.run_dir.rglob("train-stainer*")) and list(run.run_dir.rglob("external-stainers*"))
    folder = Path(run.outputs["classification_evaluation"])
    units = pd.read_csv(folder / "units.csv")
    assert sorted(set(units["modality"])) == sorted(modalities)
    assert read_manifest(EvaluationManifest, folder).counts["capacity_units"] == 4 * 2
    comparisons = pd.read_csv(folder / "comparisons.csv")
    assert {"virtual_squared", "virtual_smooth", "fluorescence"} <= set(comparisons["modality"])
    verdict = (folder / "verdict.md").read_text()
    assert "virtual_squared" in verdict and "virtual_smooth" in verdict
    quality = pd.read_csv(Path(run.outputs["classification_report"]) / "quality_summary.csv")
    assert {"squared", "smooth", "identity", "linear"} == set(quality["method"])
    report = Path(run.outputs["study_report"])
    summary = (report / "summary.md").read_text()
    assert "virtual (squared)" in summary and "virtual (smooth)" in summary
    html = (report / "report.html").read_text()
    assert "virtual (squared)" in html and "smooth" in html
