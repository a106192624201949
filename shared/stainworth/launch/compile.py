"""Compiling pipelines to KFP v2 YAML packages for a cluster."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from kfp import compiler

from stainworth.contracts.profile import Profile
from stainworth.errors import ConfigError
from stainworth.pipelines import build_pipeline
from stainworth.runner.platform import SCRATCH_MOUNT


def check_cluster_paths(profile: Profile) -> None:
    """Refuse file paths a cluster task's pod cannot read.

    A pod sees its image and, when ``cluster.scratch_pvc`` names a claim, that volume at
    :data:`~stainworth.runner.platform.SCRATCH_MOUNT`; a path on this machine is not there.

    Raises
    ------
    ConfigError
        ``prepare.source.ingest_spec`` is set to a path outside the scratch volume.
    """
    spec = profile.prepare.source.ingest_spec
    if not spec:
        return
    path = PurePosixPath(spec)
    if profile.cluster.scratch_pvc and path.is_absolute() and path.is_relative_to(SCRATCH_MOUNT):
        return
    where = (f"a path under {SCRATCH_MOUNT} (the volume {profile.cluster.scratch_pvc}), with the files copied there"
             if profile.cluster.scratch_pvc else
             f"cluster.scratch_pvc set and the spec and its files copied to that volume, under {SCRATCH_MOUNT}")
    raise ConfigError(f"prepare.source.ingest_spec: {spec} is a path on this machine, which a cluster task's pod "
                      f"cannot read; expected {where} (or ingest locally with make submit and run the cluster "
                      "on the acquisitions in the store)")


def compile_pipeline(name: str, profile: Profile, out_dir: str | Path) -> Path:
    """Compile pipeline ``name`` with ``profile`` defaults to ``<out_dir>/<name>.yaml``.

    Raises
    ------
    ConfigError
        A file path in the profile that the cluster's pods cannot read (:func:`check_cluster_paths`).
    """
    check_cluster_paths(profile)
    target = Path(out_dir) / f"{name}.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.stem}.partial.yaml")
    compiler.Compiler().compile(build_pipeline(name, profile), str(temporary))
    temporary.replace(target)
    return target
