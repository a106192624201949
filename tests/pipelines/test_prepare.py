"""The prepare pipeline end to end on smoke through kfp.local: phantom → datasets in the store."""

import json

from stainworth.contracts.fields import DatasetManifest
from stainworth.contracts.manifest import OutputManifest, read_manifest
from stainworth.launch.local import run_local
from stainworth.profiles import load_profile
from stainworth.store import open_store


def test_prepare_smoke_publishes_both_datasets(tmp_path):
    store_uri = f"file://{tmp_path}/store"
    run = run_local("prepare", load_profile("smoke"), runs_dir=tmp_path / "runs", store_uri=store_uri, echo=False)
    output = run.outputs["datasets"]
    summary = read_manifest(OutputManifest, output)
    assert set(summary.input_hashes) == {"stitch", "register", "label"}
    published = json.loads(open(f"{output}/published.json").read())
    store = open_store(store_uri)
    for kind in ("segmentation", "classification"):
        assert store.is_complete(published[kind])
        manifest = DatasetManifest.model_validate(store.read_json(f"{published[kind]}/manifest.json"))
        assert manifest.kind == kind and sum(manifest.splits.values()) > 0
    log = (run.run_dir / "run.log").read_text()
    for line in ("merge stitch 2/2", "merge register 2/2", "merge label 2/2", "Dice", "AP@0.5"):
        assert line in log
    # locally the acquisitions are dealt to the runner's two slots: a branch of one acquisition each
    assert log.count("Executing task 'stitch'") == 2 and log.count(" stitch 1/1 ") == 2
    assert log.count("Executing task 'merge-fields'") == 1


ISL_OVERRIDES = [
    "prepare.source.ingest_spec={spec}",
    "prepare.registration.method=translation", "prepare.registration.moving_channel=dapi",
    "prepare.label.channel=dapi", "prepare.label.marker=fill",
    "prepare.extract.segmentation.channel=dapi", "prepare.extract.classification.enabled=false",
    "prepare.extract.segmentation.patch_px=128", "prepare.extract.segmentation.counts={{train: 20, val: 4, test: 6}}",
]


def test_prepare_runs_on_the_real_isl_field(tmp_path):
    from pathlib import Path

    spec = Path(__file__).resolve().parents[1] / "data" / "isl_rat_neurons_a4" / "ingest.yaml"
    profile = load_profile("smoke", [item.format(spec=spec) for item in ISL_OVERRIDES])
    store_uri = f"file://{tmp_path}/store"
    run = run_local("prepare", profile, runs_dir=tmp_path / "runs", store_uri=store_uri, echo=False)
    published = json.loads(open(f"{run.outputs['datasets']}/published.json").read())
    assert set(published) == {"segmentation"}
    key = f"{published['segmentation']}/manifest.json"
    manifest = DatasetManifest.model_validate(open_store(store_uri).read_json(key))
    assert manifest.sources == ["isl-rat-neurons-a4"] and manifest.label_free_modality == "phase_contrast"
    assert manifest.splits == {"train": 20, "val": 4, "test": 6}
    log = (run.run_dir / "run.log").read_text()
    count = int(log.split("isl-rat-neurons-a4: ")[-1].split(" nuclei")[0])
    assert 30 <= count <= 80  # the field holds about 44 nuclei


def test_prepare_runs_on_an_omezarr_plate(tmp_path, hcs_plate_writer, hcs_phantom_position):
    """Two wells of a VisCy/iohub-style plate (control, treated; two 768 px positions each) → both datasets."""
    import yaml

    wells = {well: [hcs_phantom_position(768, condition=condition, seed=seed)[0] for seed in seeds]
             for well, condition, seeds in (("A/1", "control", (11, 12)), ("B/2", "treated", (13, 14)))}
    hcs_plate_writer(tmp_path / "plate.zarr", wells, labels=["Phase3D", "BF", "Lamin A/C", "H3K27me3"])
    spec = tmp_path / "ingest.yaml"
    spec.write_text(yaml.safe_dump({
        "acquisition_id": "plate", "plate": {"path": "plate.zarr", "conditions": {"A/1": "control", "B/2": "treated"}},
        "label_free": {"modality": "qpi", "channel": "Phase3D"},
        "fluorescence": [{"name": "lamin_a_c", "marker": "Lamin A/C", "channel": "Lamin A/C"},
                         {"name": "h3k27me3", "marker": "H3K27me3", "channel": "H3K27me3"}]}))
    profile = load_profile("smoke", [f"prepare.source.ingest_spec={spec}"])
    store_uri = f"file://{tmp_path}/store"
    run = run_local("prepare", profile, runs_dir=tmp_path / "runs", store_uri=store_uri, echo=False)
    published = json.loads(open(f"{run.outputs['datasets']}/published.json").read())
    assert set(published) == {"segmentation", "classification"}
    ids = ["plate-A1-0", "plate-A1-1", "plate-B2-0", "plate-B2-1"]
    for kind in published:
        manifest = DatasetManifest.model_validate(open_store(store_uri).read_json(f"{published[kind]}/manifest.json"))
        assert sorted(manifest.sources) == ids and manifest.label_free_modality == "qpi"
        assert sum(manifest.splits.values()) > 0
    log = (run.run_dir / "run.log").read_text()
    for line in ("ingest 1/1 4 acquisitions, 4 tile(s)", "stitch 4/4", "register 4/4", "label 4/4"):
        assert line in log
