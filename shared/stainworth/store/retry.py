"""Bounded retries with exponential backoff for transient store failures."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


class TransientError(Exception):
    """Wraps a failure worth retrying (connection refused, timeout, HTTP 5xx)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class RetryPolicy:
    """How often and how patiently to retry.

    Delays are ``base_delay * 2**k`` capped at ``max_delay``, without jitter so runs are
    reproducible. ``sleep`` is injectable for tests.
    """

    attempts: int = 4
    base_delay: float = 0.25
    max_delay: float = 4.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def delays(self) -> list[float]:
        """The waits between attempts (one fewer than the attempts)."""
        return [min(self.base_delay * 2**k, self.max_delay) for k in range(self.attempts - 1)]

    def call(self, operation: Callable[[], T]) -> tuple[T | None, TransientError | None]:
        """Run ``operation`` until it succeeds or the attempts are spent.

        Returns the result and None, or None and the last transient error. Non-transient
        exceptions propagate at once.
        """
        waits = self.delays()
        last: TransientError | None = None
        for attempt in range(self.attempts):
            try:
                return operation(), None
            except TransientError as error:
                last = error
                if attempt < len(waits):
                    self.sleep(waits[attempt])
        return None, last
