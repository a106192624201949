"""Progress lines for long work: what, k of n, elapsed, ETA."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def format_seconds(seconds: float) -> str:
    """``75.2`` → ``"1m15s"``; under a minute → ``"12.3s"``."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class Progress:
    """Prints ``<what> k/n <detail> (elapsed, ETA)`` after each completed step.

    Parameters
    ----------
    what
        Name of the work being counted (``"simulate"``).
    total
        Number of steps.
    stream
        Where lines go (standard output by default, so KFP logs show them).
    """

    def __init__(self, what: str, total: int, *, stream: TextIO | None = None) -> None:
        self.what = what
        self.total = max(int(total), 1)
        self.done = 0
        self.stream = stream or sys.stdout
        self.started = time.perf_counter()
        self._last_note = float("-inf")

    def step(self, detail: str = "") -> None:
        """Count one step as done and print a line."""
        self.done += 1
        elapsed = time.perf_counter() - self.started
        remaining = elapsed / self.done * (self.total - self.done)
        text = f"{self.what} {self.done}/{self.total}"
        if detail:
            text += f" {detail}"
        text += f" (elapsed {format_seconds(elapsed)}, ETA {format_seconds(remaining)})"
        print(text, file=self.stream, flush=True)

    def note(self, detail: str) -> None:
        """Print an intermediate line without counting a step."""
        print(f"{self.what}: {detail}", file=self.stream, flush=True)

    def throttled_note(self, detail: str, *, every_s: float = 10.0) -> None:
        """Like :meth:`note`, but print at most one line per ``every_s`` seconds (for inner loops)."""
        now = time.perf_counter()
        if now - self._last_note >= every_s:
            self._last_note = now
            self.note(detail)
