from stainworth.bench import Row, format_table


def test_table_shows_ratios_and_missing_references():
    table = format_table([Row("a", 3.0, 1.5, "s", "x"), Row("b", 2.0, None, "Mpx/s", "y")])
    lines = table.splitlines()
    assert lines[2] == "| a | 3.00 s | 1.50 s | 2.00 | x |"
    assert lines[3] == "| b | 2.00 Mpx/s | — | — | y |"
