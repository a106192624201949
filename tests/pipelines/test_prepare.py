"""The prepare pipeline end to end on smoke through kfp.local: phantom → datasets in the store."""

import json

from stainworth.contracts.fields import DatasetManifest
from stainworth.contracts.manifest import OutputManifest, read_manifest
from stainworth.profiles import load_profile
from stainworth.runner.local import run_local
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
    for line in ("stitch 2/2", "register 2/2", "label 2/2", "Dice", "AP@0.5"):
        assert line in log
