import io

from stainworth.progress import Progress, format_seconds


def test_steps_print_count_elapsed_and_eta():
    stream = io.StringIO()
    progress = Progress("stitch", 2, stream=stream)
    progress.step("field-a")
    assert stream.getvalue().startswith("stitch 1/2 field-a (elapsed ")
    assert "ETA" in stream.getvalue()


def test_throttled_notes_print_at_most_once_per_interval():
    stream = io.StringIO()
    progress = Progress("stitch", 1, stream=stream)
    for k in range(50):
        progress.throttled_note(f"pair {k}/50", every_s=3600)
    assert stream.getvalue() == "stitch: pair 0/50\n"
    progress.throttled_note("pair 50/50", every_s=0)
    assert stream.getvalue().endswith("stitch: pair 50/50\n")


def test_seconds_are_formatted_for_people():
    assert format_seconds(12.34) == "12.3s"
    assert format_seconds(75.2) == "1m15s"
    assert format_seconds(7300) == "2h01m"
