from stainworth.bench import Row, format_table


def test_table_shows_ratios_and_missing_references():
    table = format_table([Row("a", 3.0, 1.5, "s", "x"), Row("b", 2.0, None, "Mpx/s", "y")])
    lines = table.splitlines()
    assert lines[2] == "| a | 3.00 s | 1.50 s | 2.00 | x |"
    assert lines[3] == "| b | 2.00 Mpx/s | — | — | y |"


def test_prepare_bench_times_every_stage_and_counts_nuclei():
    from stainworth.bench.prepare import bench_prepare

    rows = {row.measure: row for row in bench_prepare("smoke")}
    stages = ["acquire (phantom)", "stitch", "register", "label", "extract"]
    seconds = [rows[f"prepare (smoke) {stage}"].value for stage in stages]
    assert all(value > 0 for value in seconds)
    assert rows["prepare (smoke) stitch"].reference == sum(seconds)
    throughput = rows["prepare (smoke) label throughput"]
    nuclei = int(throughput.note.split()[0])
    assert nuclei > 20
    assert throughput.value == nuclei / rows["prepare (smoke) label"].value
