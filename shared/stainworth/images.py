"""Container images the pipelines' components run in.

Both follow ``IMAGE_REGISTRY`` and ``IMAGE_TAG`` (default: the package version), the same
variables ``make images`` builds and pushes with.
"""

from __future__ import annotations

import os

from stainworth import __version__


def image_name(kind: str) -> str:
    """Full image reference of the ``cpu`` or ``cuda`` image."""
    if kind not in {"cpu", "cuda"}:
        raise ValueError(f"image kind must be 'cpu' or 'cuda', not '{kind}'")
    registry = os.environ.get("IMAGE_REGISTRY", "stainworth").rstrip("/")
    tag = os.environ.get("IMAGE_TAG", __version__)
    return f"{registry}/stainworth-{kind}:{tag}"


CPU_IMAGE = image_name("cpu")
CUDA_IMAGE = image_name("cuda")
