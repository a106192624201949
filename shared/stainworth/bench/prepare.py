"""The ``prepare`` stages as library calls on a profile's phantom data: seconds and nuclei/s."""

from __future__ import annotations

import tempfile
from pathlib import Path

from stainworth.bench.table import Row, timed
from stainworth.contracts.fields import FieldsManifest
from stainworth.profiles import load_profile


def bench_prepare(profile_name: str) -> list[Row]:
    """Each ``prepare`` stage on the profile's phantom data: seconds, and nuclei/s for label and extract."""
    from stainworth.contracts.manifest import read_manifest
    from stainworth.stages.extract import extract_datasets
    from stainworth.stages.ingest import acquire
    from stainworth.stages.label import label_fields
    from stainworth.stages.register import register_fields
    from stainworth.stages.stitch import stitch_fields

    profile = load_profile(profile_name)
    config = profile.prepare
    with tempfile.TemporaryDirectory(prefix="stainworth-bench-") as scratch:
        root = Path(scratch)
        store = f"file://{root}/store"
        seconds = {
            "acquire (phantom)": timed(lambda: acquire(config.source, profile.simulate, root / "acquired",
                                                       store_uri=store)),
            "stitch": timed(lambda: stitch_fields(config, root / "acquired", root / "stitched", store_uri=store)),
            "register": timed(lambda: register_fields(config.registration, root / "stitched", root / "registered",
                                                      nucleus_diameter_um=config.label.nucleus_diameter_um)),
            "label": timed(lambda: label_fields(config.label, root / "stitched", root / "registered",
                                                root / "labelled", store_uri=store)),
            "extract": timed(lambda: extract_datasets(config.extract, root / "stitched", root / "registered",
                                                      root / "labelled", root / "extracted", store_uri=store)),
        }
        labelled = read_manifest(FieldsManifest, root / "labelled")
    nuclei = sum(field.metrics["nuclei"] for field in labelled.fields.values())
    total = sum(seconds.values())
    rows = [Row(f"prepare ({profile_name}) {stage}", value, total, "s", "share of the stages' total")
            for stage, value in seconds.items()]
    rows += [Row(f"prepare ({profile_name}) {stage} throughput", nuclei / seconds[stage], None, "nuclei/s",
                 f"{nuclei:.0f} nuclei in {len(labelled.fields)} fields")
             for stage in ("label", "extract")]
    return rows
