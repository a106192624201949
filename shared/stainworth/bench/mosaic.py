"""One phantom field of growing size prepared (stitch → register → label → extract) in a fresh process: time, memory."""

from __future__ import annotations

import tempfile
from pathlib import Path

from stainworth.bench.table import Row
from stainworth.contracts.phantom import PhantomConfig
from stainworth.contracts.prepare import LabelConfig


def phantom_config(shape: int | tuple[int, int]) -> PhantomConfig:
    """A phantom of 1,024 px tiles, 10% overlap, whose mosaic is about ``shape`` px (a side, or height and width)."""
    from stainworth.contracts.phantom import PhantomConfig

    height, width = (shape, shape) if isinstance(shape, int) else shape
    tile, overlap = 1024, 0.1
    step = round(tile * (1 - overlap))
    rows, cols = (max(round((side - tile) / step) + 1, 2) for side in (height, width))
    return PhantomConfig(acquisition={"rows": rows, "cols": cols, "tile_size_px": tile, "overlap": overlap})


def phantom_mosaic_case(shape: int | tuple[int, int], folder: Path) -> tuple[int, int]:
    """Write a phantom acquisition whose mosaic is about ``shape`` px (a side, or height and width); its shape."""
    from stainworth.phantom import generate_acquisition
    from stainworth.phantom.folder import write_phantom_acquisition

    config = phantom_config(shape)
    acquisition = generate_acquisition(config, condition="control", seed=5)
    write_phantom_acquisition(acquisition, folder, acquisition_id=f"bench-{config.acquisition.mosaic_shape[0]}",
                              config=config, overlap=config.acquisition.overlap)
    return acquisition.mosaic_shape


FIELD_SHAPES = ((4096, 4096), (8192, 8192), (4096, 19000))
"""The fields ``make bench`` prepares: the 3,790² and 8,400² mosaics, and a 19,000-px-wide strip (next)."""


def bench_prepare_field(shapes: tuple[tuple[int, int], ...] = FIELD_SHAPES) -> list[Row]:
    """Stitch → register → label (classical) → extract of phantom fields of growing size, each in a fresh process.

    Wall time and peak memory of the four stages on one field, each stage in a process of its own
    as on a cluster (:func:`stainworth.runner.stage_probe.probe_prepare_stages`); the largest
    stage's peak against the first field's: flat means bounded by bands and blocks, not by the
    field's area.

    The last field is a strip of the paper's 19,000 px width and four tiles' height: every stage
    reads the field in full-width bands of rows (stitch's blending, register's warp, extract) or in
    blocks (label), so a band's memory is a 19,000² field's, and the height adds bands, not
    memory. A whole 19,000² phantom cannot be rendered on this machine: the phantom draws its cells
    in memory, about 57 bytes per mosaic pixel (4.0 GB measured at 8,400²), about 20 GB at 19,000².
    """
    from stainworth.runner.stage_probe import probe_prepare_stages

    rows: list[Row] = []
    results = {}
    for shape in shapes:
        with tempfile.TemporaryDirectory(prefix="stainworth-bench-") as scratch:
            root = Path(scratch)
            phantom = phantom_config(shape)
            probes = probe_prepare_stages(root / "acquisition", root / "out", phantom=phantom, seed=5)
            results[shape] = (phantom.acquisition.mosaic_shape, probes)
    first_shape, first = results[shapes[0]]
    first_peak = max(probe.peak_bytes for stage, probe in first.items() if stage != "ingest") / 1024**2
    for mosaic, probes in results.values():
        name = f"{mosaic[0]}x{mosaic[1]} px"
        total = sum(probe.seconds for stage, probe in probes.items() if stage != "ingest")
        stages = {stage: probe for stage, probe in probes.items() if stage != "ingest"}
        peak = max(stages.values(), key=lambda probe: probe.peak_bytes)
        metrics = {key: value for probe in probes.values() for key, value in probe.metrics.items()}
        rows += [
            Row(f"prepare one field {name}: wall time", total, None, "s",
                ", ".join(f"{stage} {probe.seconds:.1f} s" for stage, probe in stages.items())
                + f"; {metrics['nuclei']:.0f} nuclei, {mosaic[0] * mosaic[1] / 1e6 / total:.2f} megapixels/s"),
            Row(f"prepare one field {name}: peak memory", peak.peak_bytes / 1024**2, first_peak, "MB",
                f"largest stage: {peak.stage} ("
                + ", ".join(f"{stage} {probe.peak_bytes / 1024**2:.0f}" for stage, probe in stages.items())
                + f" MB, each its own process); reference: the {first_shape[0]}x{first_shape[1]} px field; "
                f"goal <= 1.2x (rendering the phantom: {probes['ingest'].peak_bytes / 1024**2:.0f} MB, "
                f"{probes['ingest'].seconds:.0f} s, not counted)"),
            Row(f"stitch {name}: tile position error (max)", metrics["position_error_px_max"], 1.0, "px",
                "goal < 1 px"),
            Row(f"register {name}: error vs true affine (RMS)", metrics["registration_error_px_rms"], 0.5, "px",
                "goal < 0.5 px"),
            Row(f"label {name}: Dice against the true nuclei", metrics["dice"], None, "",
                f"AP@0.5 {metrics['ap50']:.3f}; {metrics['blocks']:.0f} block(s) of {LabelConfig().block_px} px, "
                f"{metrics['nuclei_larger_than_halo']:.0f} nuclei larger than the halo; "
                f"{metrics['measured_nuclei']:.0f} nuclei measured by extract"),
        ]
    return rows
