"""Fixtures of the component tests: real outputs made by calling the components' bodies directly.

The prepare chain runs on the smoke profile's phantom acquisitions in a ``file://`` store; the
stainers train for one epoch on the phantom classification dataset of ``tests/conftest.py``.
"""

from pathlib import Path

import pytest
from kfp import dsl

from stainworth.components.apply_stainer import apply_stainer
from stainworth.components.ingest import ingest
from stainworth.components.label import label
from stainworth.components.register import register
from stainworth.components.stitch import stitch
from stainworth.components.train_stainer import train_stainer
from stainworth.contracts.fields import FieldsManifest
from stainworth.contracts.manifest import read_manifest
from stainworth.contracts.stainer import StainConfig
from stainworth.fields import field_path
from stainworth.profiles import load_profile

STAIN_CONFIG = StainConfig.model_validate({"training": {"batch_size": 8, "max_epochs": 1, "pix2pixhd": {
    "ngf": 8, "n_blocks": 1, "n_blocks_local": 1, "ndf": 8, "num_d": 2, "n_downsampling": 2}},
    "apply": {"batch_size": 8, "panels": 2}}).model_dump(mode="json")
"""Stainers of a few thousand parameters, one epoch."""
ARCHITECTURES = ("efficientunet", "pix2pixhd")


@pytest.fixture(scope="session")
def smoke_prepare():
    """The smoke profile's ``prepare`` and ``simulate`` configurations as the pipelines pass them."""
    profile = load_profile("smoke")
    return (profile.prepare.model_dump(mode="json", exclude_none=True),
            profile.simulate.model_dump(mode="json", exclude_none=True))


@pytest.fixture(scope="session")
def prepared_outputs(smoke_prepare, tmp_path_factory):
    """Outputs of ingest → stitch → register → label, each made by its component: ``(artifacts, store_uri)``."""
    root = tmp_path_factory.mktemp("component-prepare")
    store_uri = f"file://{root}/store"
    config, simulate_config = smoke_prepare
    made = {name: dsl.Dataset(name=name, uri=str(root / name))
            for name in ("ingested", "stitched", "registered", "labelled")}
    ingest.python_func(config=config, simulate_config=simulate_config, store_uri=store_uri, ingested=made["ingested"])
    stitch.python_func(config=config, store_uri=store_uri, ingested=made["ingested"], stitched=made["stitched"])
    register.python_func(config=config, store_uri=store_uri, stitched=made["stitched"],
                         registered=made["registered"])
    label.python_func(config=config, store_uri=store_uri, stitched=made["stitched"], registered=made["registered"],
                      labelled=made["labelled"])
    return made, store_uri


def per_field_output(made, output, upstream, group):
    """The manifest of per-field output ``output`` of ``made``, checked to hold ``upstream``'s fields, each
    with its ``group`` folder."""
    root = Path(made[output].path)
    manifest = read_manifest(FieldsManifest, root)
    assert sorted(manifest.fields) == sorted(read_manifest(FieldsManifest, made[upstream].path).fields)
    assert all(field_path(root, field_id, group).is_dir() for field_id in manifest.fields)
    return manifest


@pytest.fixture(scope="session")
def trained_stainers(phantom_datasets, tmp_path_factory):
    """``train_stainer`` outputs of both architectures on the phantom classification dataset, by architecture."""
    root = tmp_path_factory.mktemp("component-stainers")
    datasets = dsl.Dataset(name="datasets", uri=str(phantom_datasets))
    made = {}
    for architecture in ARCHITECTURES:
        made[architecture] = dsl.Model(name="stainer", uri=str(root / architecture))
        train_stainer.python_func(config=STAIN_CONFIG, kind="classification", architecture=architecture,
                                  store_uri=f"file://{root}/store", datasets=datasets, stainer=made[architecture])
    return made


@pytest.fixture(scope="session")
def applied_stainers(trained_stainers, phantom_datasets, tmp_path_factory):
    """``apply_stainer`` outputs of both trained stainers on the phantom classification dataset, by architecture."""
    root = tmp_path_factory.mktemp("component-virtual")
    datasets = dsl.Dataset(name="datasets", uri=str(phantom_datasets))
    made = {}
    for architecture, stainer in trained_stainers.items():
        made[architecture] = dsl.Dataset(name="virtual", uri=str(root / architecture))
        apply_stainer.python_func(config=STAIN_CONFIG, kind="classification", stainer=stainer, datasets=datasets,
                                  virtual=made[architecture])
    return made


RETRAIN_CONFIG = {"holdout_acquisitions": ["hold"]}
"""Acquisition ``hold`` is the fixed holdout; every other one is for training."""


@pytest.fixture(scope="session")
def retrain_outputs(trained_stainers, phantom_datasets, tmp_path_factory):
    """A store with acquisitions ``hold``, ``a1``, ``a2``; the ``detect_acquisitions`` output on it and its
    return value; the ``publish_stainers`` output of the trained stainers: ``(store_uri, detection, count,
    published)``."""
    from stainworth.components.detect_acquisitions import detect_acquisitions
    from stainworth.components.publish_stainers import publish_stainers
    from stainworth.contracts.manifest import OutputManifest, write_manifest
    from stainworth.store import open_store

    root = tmp_path_factory.mktemp("component-retrain")
    store_uri = f"file://{root}/store"
    for name in ("hold", "a1", "a2"):
        folder = root / "staging" / name
        folder.mkdir(parents=True)
        (folder / "tile.bin").write_text(name)
        write_manifest(OutputManifest(stage="ingest", config={}, config_hash="0" * 64), folder)
        open_store(store_uri).publish_dir(folder, f"acquisitions/{name}")
    detection = dsl.Artifact(name="detection", uri=str(root / "detection"))
    count = detect_acquisitions.python_func(config=RETRAIN_CONFIG, store_uri=store_uri, detection=detection)
    published = dsl.Artifact(name="published", uri=str(root / "published"))
    publish_stainers.python_func(config=RETRAIN_CONFIG, kind="classification", store_uri=store_uri,
                                 holdout=dsl.Dataset(name="holdout", uri=str(phantom_datasets)), published=published,
                                 **trained_stainers)
    return store_uri, detection, count, published
