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
        ``prepare.source.ingest_spec``, or the images or model of an external stainer
        (``stain.external``), is a path outside the scratch volume (store URIs, ``s3://``, are
        read by the pods themselves).
    """
    spec = profile.prepare.source.ingest_spec
    if spec and not _on_volume(profile, spec):
        raise ConfigError(f"prepare.source.ingest_spec: {spec} is a path on this machine, which a cluster task's "
                          f"pod cannot read; expected {_where(profile, 'the spec and its files')} (or ingest "
                          "locally with make submit and run the cluster on the acquisitions in the store)")
    for k, external in enumerate(profile.stain.external):
        for field, value in (("images", external.images), ("model", external.model)):
            if value and not value.startswith("s3://") and not _on_volume(profile, value.removeprefix("file://")):
                raise ConfigError(f"stain.external[{k}].{field}: {value} is a path on this machine, which a "
                                  f"cluster task's pod cannot read; expected an s3:// URI of the store, or "
                                  f"{_where(profile, 'the files')}")


def component_names() -> list[str]:
    """The names of the pipelines' components (the folders of :mod:`stainworth.components`)."""
    import pkgutil

    import stainworth.components

    return sorted(module.name for module in pkgutil.iter_modules(stainworth.components.__path__) if module.ispkg)


def check_requests(profile: Profile) -> None:
    """Refuse ``cluster.requests`` for a component that does not exist (a misspelt name would be ignored).

    Raises
    ------
    ConfigError
        One line naming the unknown components and listing the known ones.
    """
    known = component_names()
    unknown = sorted(set(profile.cluster.requests) - set(known))
    if unknown:
        raise ConfigError(f"cluster.requests: components {unknown} do not exist; expected names among {known}")


def _on_volume(profile: Profile, text: str) -> bool:
    path = PurePosixPath(text)
    return bool(profile.cluster.scratch_pvc) and path.is_absolute() and path.is_relative_to(SCRATCH_MOUNT)


def _where(profile: Profile, what: str) -> str:
    if profile.cluster.scratch_pvc:
        return f"a path under {SCRATCH_MOUNT} (the volume {profile.cluster.scratch_pvc}), with {what} copied there"
    return f"cluster.scratch_pvc set and {what} copied to that volume, under {SCRATCH_MOUNT}"


def compile_pipeline(name: str, profile: Profile, out_dir: str | Path) -> Path:
    """Compile pipeline ``name`` with ``profile`` defaults to ``<out_dir>/<name>.yaml``.

    Raises
    ------
    ConfigError
        A file path in the profile that the cluster's pods cannot read (:func:`check_cluster_paths`), or
        requests for a component that does not exist (:func:`check_requests`).
    """
    check_cluster_paths(profile)
    check_requests(profile)
    target = Path(out_dir) / f"{name}.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.stem}.partial.yaml")
    compiler.Compiler().compile(build_pipeline(name, profile), str(temporary))
    temporary.replace(target)
    return target
