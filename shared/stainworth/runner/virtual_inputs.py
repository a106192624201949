"""The virtual datasets a task receives from its optional ``apply_stainer`` and ``external_stainers`` inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stainworth.contracts.task import VIRTUAL_PREFIX


def virtual_dirs(virtual_effunet: Any = None, virtual_pix2pixhd: Any = None, external: Any = None) -> dict[str, str]:
    """``{modality: folder}`` of the given artifacts (``None``: that stainer is off in the profile).

    ``external`` is an ``external_stainers`` output: one ``virtual_<name>`` folder per external stainer.
    """
    found = {name: artifact.path for name, artifact in (("virtual_effunet", virtual_effunet),
                                                        ("virtual_pix2pixhd", virtual_pix2pixhd))
             if artifact is not None}
    if external is not None:
        found |= {folder.name: str(folder) for folder in sorted(Path(external.path).iterdir())
                  if folder.is_dir() and folder.name.startswith(VIRTUAL_PREFIX)}
    return found


def stainer_dirs(pix2pixhd: Any = None, efficientunet: Any = None, external: Any = None) -> dict[str, str]:
    """``{stainer name: folder}`` for the stain report: the study's by architecture, external ones by their names."""
    found = {name: artifact.path for name, artifact in (("pix2pixhd", pix2pixhd), ("efficientunet", efficientunet))
             if artifact is not None}
    external_dirs = virtual_dirs(external=external)
    return found | {modality[len(VIRTUAL_PREFIX):]: folder for modality, folder in external_dirs.items()}
