"""The whole-mosaic staining benchmark runs at small sides and gives well-formed, finite rows."""

import math

from stainworth.bench import Row, format_table
from stainworth.bench.tiling import bench_stain_mosaic


def test_bench_stain_mosaic_small():
    rows = bench_stain_mosaic(sides=(256, 512), tile=128)
    assert len(rows) == 2 + 2 * 3
    assert all(isinstance(row, Row) for row in rows)
    for row in rows:
        assert math.isfinite(row.value) and row.value > 0, row
        assert row.reference is None or (math.isfinite(row.reference) and row.reference > 0), row
        assert row.measure and row.unit and row.note and "NON-FINITE" not in row.note
    overhead, throughput, *per_side = rows
    assert overhead.unit == "s" and "256x256" in overhead.measure and overhead.reference is not None
    assert throughput.unit == "Mpx/s" and throughput.reference is None
    peaks = [row for row in per_side if row.measure.endswith("peak memory")]
    assert [row.unit for row in peaks] == ["MB", "MB"] and peaks[0].reference == peaks[0].value
    assert peaks[1].reference == peaks[0].value and "512x512" in peaks[1].measure
    assert "| stain_mosaic 512x512 px (zarr on disk): wall time |" in format_table(rows)
    own = [row for row in per_side if row.measure.endswith("peak of its own allocations")]
    assert len(own) == 2 and own[1].reference == own[0].value and all(row.value < 100 for row in own)
