"""What the report states about the run itself: profile, data source, configuration and input hashes.

The configuration shown is the one given to the report (the resolved profile) followed by the
configurations its inputs recorded in their manifests (the tasks section each evaluation's units
were trained with, the stain settings of each image-quality report): the latter are what ran,
even when a run's parameters were overridden at submission. Provenance lists every input's
stage, producer, configuration hash and content hash, and the units each evaluation read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import yaml

from stainworth.contracts.report import ReportConfig, redact
from stainworth.report.inputs import Evaluation, StainQuality

NOT_RECORDED = "not recorded"


def profile_name(config: ReportConfig) -> str:
    """The profile named in ``config`` (``profile``, else ``settings["name"]``), or ``not recorded``."""
    name = config.profile or config.settings.get("name")
    return str(name) if name else NOT_RECORDED


def data_source(config: ReportConfig) -> str:
    """Where the images came from: ``config.data_source``, else read from ``settings["prepare"]["source"]``.

    Returns
    -------
    str
        ``phantom``, ``phantom (simulated acquisitions)``, ``real (ingested from <spec>)``,
        ``real (acquisitions under <prefix> in the store)``, ``real``, or ``not recorded``.
    """
    if config.data_source == "phantom":
        return "phantom (simulated acquisitions)"
    if config.data_source == "real":
        return "real"
    prepare = config.settings.get("prepare")
    if not isinstance(prepare, dict):
        return NOT_RECORDED
    source = prepare.get("source") or {}
    if not isinstance(source, dict):
        return NOT_RECORDED
    if source.get("ingest_spec"):
        return f"real (ingested from {source['ingest_spec']})"
    if source.get("phantom", True):
        return "phantom (simulated acquisitions)"
    return f"real (acquisitions under {source.get('store_prefix', 'acquisitions')} in the store)"


def _yaml(data: Any) -> str:
    return yaml.safe_dump(redact(data), sort_keys=False, default_flow_style=False, allow_unicode=True).rstrip()


def configuration_text(config: ReportConfig, evaluations: Sequence[Evaluation],
                       qualities: Sequence[StainQuality]) -> str:
    """YAML of the given settings and of every input's recorded configuration, one titled block each."""
    blocks = []
    if config.settings:
        blocks.append(f"# given to the report (profile {profile_name(config)})\n{_yaml(config.settings)}")
    for evaluation in evaluations:
        blocks.append(f"# evaluate {evaluation.task}: the tasks configuration its units were trained with\n"
                      f"{_yaml(evaluation.manifest.config)}")
    for quality in qualities:
        blocks.append(f"# stain_report {quality.kind}: its configuration\n{_yaml(quality.manifest.config)}")
    return "\n\n".join(blocks) if blocks else NOT_RECORDED


def profile_seeds(settings: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Every seed of the settings (keys ``seed`` or ``*_seed``, at any depth) as ``(dotted path, value)``.

    Examples
    --------
    >>> profile_seeds({"simulate": {"seed": 0}, "tasks": {"classification": {"training": {"seed": 3}}}})
    [('simulate.seed', 0), ('tasks.classification.training.seed', 3)]
    """
    if not isinstance(settings, dict):
        return []
    found = []
    for key, value in settings.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            found += profile_seeds(value, f"{path}.")
        elif str(key) == "seed" or str(key).endswith("_seed"):
            found.append((path, value))
    return found


def seeds_sentence(config: ReportConfig) -> str:
    """The seeds of the profile given to the report, in one sentence."""
    seeds = profile_seeds(config.settings)
    if not seeds:
        return "Seeds of the profile: not recorded (no settings given to the report)."
    return "Seeds of the profile: " + ", ".join(f"{path} = {value}" for path, value in seeds) + "."


def provenance_table(evaluations: Sequence[Evaluation], qualities: Sequence[StainQuality]) -> pd.DataFrame:
    """One row per input: what it is, its folder, stage, producer, configuration and content hashes."""
    rows = []
    for label, item in ([(f"evaluation of {e.task}", e) for e in evaluations]
                        + [(f"image quality of the {q.kind} dataset", q) for q in qualities]):
        manifest = item.manifest
        rows.append({"input": label, "folder": str(item.folder), "stage": manifest.stage,
                     "producer": manifest.producer, "config hash": manifest.config_hash,
                     "content hash": manifest.content_hash, "inputs": str(len(manifest.input_hashes))})
    return pd.DataFrame(rows)


def input_hashes(evaluations: Sequence[Evaluation], qualities: Sequence[StainQuality]) -> pd.DataFrame:
    """The content hash of everything the inputs read (units, datasets, virtual datasets)."""
    rows = [{"read by": f"evaluation of {item.task}", "input": name, "content hash": digest}
            for item in evaluations for name, digest in item.manifest.input_hashes.items()]
    rows += [{"read by": f"image quality of the {item.kind} dataset", "input": name, "content hash": digest}
             for item in qualities for name, digest in item.manifest.input_hashes.items()]
    return pd.DataFrame(rows, columns=["read by", "input", "content hash"])
