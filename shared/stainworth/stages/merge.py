"""The ``merge_fields`` stage: the branches of the prepare fan-out joined into one output per stage.

On a cluster every acquisition is stitched, registered and labelled by tasks of its own (a
``ParallelFor`` over the acquisitions; locally the acquisitions are dealt to the runner's slots).
Each branch writes a stage output holding its fields. This stage joins the branches' outputs of
one stage into the output the stage would have written over all acquisitions at once: the same
``fields/<id>/`` folders (hard-linked where the file system allows, else copied), and a manifest
with every field, the counts summed, the ``mean_<metric>`` figures recomputed over all fields, and
the upstream stage's input hash replaced by the merged upstream's, so that lineage and content
hashes are those of an unbranched run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from stainworth.contracts.fields import FieldInfo, FieldsManifest
from stainworth.contracts.manifest import read_manifest, write_manifest
from stainworth.errors import InputDataError
from stainworth.fields import FIELDS, mean_metrics
from stainworth.progress import Progress

MEAN_PREFIX = "mean_"
"""Manifest metrics that are means over the fields: recomputed over all fields when merging."""


def link_tree(source: Path, target: Path) -> None:
    """Copy the folder ``source`` to ``target`` by hard links (files are never rewritten), else by copies."""
    for root, _dirs, files in os.walk(source):
        destination = target / Path(root).relative_to(source)
        destination.mkdir(parents=True, exist_ok=True)
        for name in files:
            try:
                os.link(Path(root) / name, destination / name)
            except OSError:
                shutil.copy2(Path(root) / name, destination / name)


def merge_fields(parts: Sequence[str | Path], output_dir: str | Path, *,
                 upstream: Mapping[str, FieldsManifest] | None = None) -> FieldsManifest:
    """Join the outputs of one stage's branches (stitch, register or label) into one output.

    Parameters
    ----------
    parts
        The branches' output folders of one stage, each with ``manifest.json`` and ``fields/``.
    output_dir
        Where the joined output is written (manifest last).
    upstream
        The merged outputs of the stages this one read, by input name (``{"stitch": ...}`` when
        merging ``register``): their content hashes replace the branches' own.

    Returns
    -------
    FieldsManifest
        The joined output's manifest.

    Raises
    ------
    InputDataError
        No parts, parts of different stages or settings, a field in two parts, or branches that
        disagree about an input not named in ``upstream``.
    """
    if not parts:
        raise InputDataError("merge_fields: no branch outputs; expected at least one")
    manifests = [read_manifest(FieldsManifest, part) for part in parts]
    first = manifests[0]
    out = Path(output_dir)
    fields: dict[str, FieldInfo] = {}
    for part, manifest in zip(parts, manifests, strict=True):
        if (manifest.stage, manifest.config_hash) != (first.stage, first.config_hash):
            raise InputDataError(f"{part}: a '{manifest.stage}' output with settings {manifest.config_hash[:12]}; "
                                 f"expected '{first.stage}' with settings {first.config_hash[:12]} like {parts[0]}")
        for field_id, field in manifest.fields.items():
            if field_id in fields:
                raise InputDataError(f"{part}: field '{field_id}' is in another branch too; expected each "
                                     "acquisition in one branch")
            fields[field_id] = field
    unknown = sorted({name for m in manifests for name in m.metrics if not name.startswith(MEAN_PREFIX)})
    if unknown:
        raise InputDataError(f"{parts[0]}: manifest metrics {unknown} cannot be merged; expected only "
                             f"'{MEAN_PREFIX}<field metric>' figures")
    input_hashes = _input_hashes(parts, manifests, upstream or {})
    progress = Progress(f"merge {first.stage}", len(fields))
    for part, manifest in zip(parts, manifests, strict=True):
        for field_id in manifest.fields:
            link_tree(Path(part) / FIELDS / field_id, out / FIELDS / field_id)
            progress.step(field_id)
    fields = dict(sorted(fields.items()))
    names = sorted({name.removeprefix(MEAN_PREFIX) for m in manifests for name in m.metrics})
    counts: dict[str, int] = {}
    for manifest in manifests:
        for name, value in manifest.counts.items():
            counts[name] = counts.get(name, 0) + value
    merged = first.model_copy(update={
        "input_hashes": input_hashes, "counts": counts,
        "metrics": mean_metrics(fields, names), "fields": fields,
        "paths": {role: sorted({p for m in manifests for p in m.paths.get(role, [])})
                  for role in sorted({role for m in manifests for role in m.paths})},
        "content_hash": ""})
    return write_manifest(merged, out)


def _input_hashes(parts: Sequence[str | Path], manifests: Sequence[FieldsManifest],
                  upstream: Mapping[str, FieldsManifest]) -> dict[str, str]:
    hashes: dict[str, str] = {}
    for part, manifest in zip(parts, manifests, strict=True):
        for name, value in manifest.input_hashes.items():
            if name in upstream:
                hashes[name] = upstream[name].content_hash
            elif hashes.setdefault(name, value) != value:
                raise InputDataError(f"{part}: input '{name}' has hash {value[:12]}, another branch's "
                                     f"{hashes[name][:12]}; expected the branches to agree")
    return dict(sorted(hashes.items()))


def merge_prepared(stitched: Sequence[str | Path], registered: Sequence[str | Path], labelled: Sequence[str | Path],
                   out_stitched: str | Path, out_registered: str | Path, out_labelled: str | Path) -> FieldsManifest:
    """Join the stitch, register and label outputs of every branch; returns the joined label manifest."""
    merged_stitch = merge_fields(stitched, out_stitched)
    merged_register = merge_fields(registered, out_registered, upstream={"stitch": merged_stitch})
    return merge_fields(labelled, out_labelled, upstream={"register": merged_register})
