"""One phantom field prepared end to end in a child process gives well-formed, finite rows."""

import math

from stainworth.bench.mosaic import bench_prepare_field
from stainworth.bench.table import format_table


def test_bench_prepare_field_small():
    rows = bench_prepare_field(((1024, 1024), (1024, 2900)))
    assert len(rows) == 10 and all(math.isfinite(row.value) for row in rows)
    small, wide = rows[:5], rows[5:]
    assert small[0].measure.startswith("prepare one field 1946x1946 px") and "x2868 px" in wide[0].measure
    assert small[1].reference == small[1].value and wide[1].reference == small[1].value
    assert all(stage in wide[0].note for stage in ("stitch", "register", "label", "extract"))
    assert small[4].value > 0.8 and wide[4].value > 0.8  # Dice of the labels against the true nuclei
    assert "| prepare one field 1946x1946 px: wall time |" in format_table(rows)
