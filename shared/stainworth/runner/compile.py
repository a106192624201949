"""Compiling pipelines to KFP v2 YAML packages."""

from __future__ import annotations

from pathlib import Path

from kfp import compiler

from stainworth.contracts.profile import Profile
from stainworth.pipelines import build_pipeline


def compile_pipeline(name: str, profile: Profile, out_dir: str | Path) -> Path:
    """Compile pipeline ``name`` with ``profile`` defaults to ``<out_dir>/<name>.yaml``."""
    target = Path(out_dir) / f"{name}.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.stem}.partial.yaml")
    compiler.Compiler().compile(build_pipeline(name, profile), str(temporary))
    temporary.replace(target)
    return target
