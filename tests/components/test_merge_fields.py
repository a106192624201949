"""The merge_fields component body, called directly on branches made by the stitch, register and label bodies."""

import pytest
from kfp import dsl

from stainworth.components.label import label
from stainworth.components.merge_fields import merge_fields
from stainworth.components.register import register
from stainworth.components.stitch import stitch
from stainworth.contracts.fields import FieldsManifest
from stainworth.contracts.manifest import read_manifest


@pytest.fixture(scope="module")
def branches(prepared_outputs, smoke_prepare, tmp_path_factory):
    """One stitch → register → label branch per acquisition, each made by the component bodies."""
    made, store_uri = prepared_outputs
    config, _ = smoke_prepare
    root = tmp_path_factory.mktemp("component-branches")
    outputs = {name: [] for name in ("stitched", "registered", "labelled")}
    for acquisition_id in sorted(read_manifest(FieldsManifest, made["stitched"].path).fields):
        branch = {name: dsl.Dataset(name=name, uri=str(root / acquisition_id / name)) for name in outputs}
        stitch.python_func(config=config, store_uri=store_uri, ingested=made["ingested"], stitched=branch["stitched"],
                           acquisitions=[acquisition_id])
        register.python_func(config=config, store_uri=store_uri, stitched=branch["stitched"],
                             registered=branch["registered"])
        label.python_func(config=config, store_uri=store_uri, stitched=branch["stitched"],
                          registered=branch["registered"], labelled=branch["labelled"])
        for name in outputs:
            outputs[name].append(branch[name])
    return outputs


def test_the_merged_branches_equal_one_unbranched_run(prepared_outputs, smoke_prepare, branches, tmp_path):
    made, _ = prepared_outputs
    config, _ = smoke_prepare
    merged = {name: dsl.Dataset(name=name, uri=str(tmp_path / name)) for name in
              ("merged_stitched", "merged_registered", "merged_labelled")}
    merge_fields.python_func(config=config, **branches, **merged)
    for name in ("stitched", "registered", "labelled"):
        whole = read_manifest(FieldsManifest, made[name].path)
        joined = read_manifest(FieldsManifest, merged[f"merged_{name}"].path)
        assert len(branches[name]) == 2 and sorted(joined.fields) == sorted(whole.fields)
        assert joined.content_hash == whole.content_hash and joined.input_hashes == whole.input_hashes
        assert joined.counts == whole.counts and joined.metrics == pytest.approx(whole.metrics, rel=1e-12)
    assert merged["merged_labelled"].metadata["stage"] == "label"


def test_a_branch_given_twice_ends_with_one_line(smoke_prepare, branches, tmp_path, capsys):
    config, _ = smoke_prepare
    twice = {name: [parts[0], parts[0]] for name, parts in branches.items()}
    with pytest.raises(SystemExit) as ended:
        merge_fields.python_func(config=config, **twice, **{
            name: dsl.Dataset(name=name, uri=str(tmp_path / name))
            for name in ("merged_stitched", "merged_registered", "merged_labelled")})
    error = capsys.readouterr().err.strip()
    assert ended.value.code == 2 and "is in another branch too" in error and "\n" not in error
