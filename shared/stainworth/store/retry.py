"""Bounded retry with deterministic exponential backoff.

A :class:`RetryPolicy` runs an operation up to ``attempts`` times. Between failed attempts it
sleeps ``min(max_delay, base_delay * 2 ** (failure - 1))`` seconds, without jitter, so the
total time spent waiting is known in advance. Only errors the caller classifies as transient
are retried; any other error propagates at once. When every attempt failed transiently,
:class:`RetriesExhausted` carries the attempt count and the last error.

Why not urllib3's own ``Retry`` (which :mod:`stainworth.store.s3` switches off in its pool):

- It retries one HTTP request; the unit here is a whole store operation. A download reads the
  body after ``urlopen`` returned (the minio client asks for ``preload_content=False``), so a
  connection dropped mid-body is beyond ``Retry``; an upload reopens its file per attempt; a
  bucket check and its creation go together.
- It sees status codes before the minio client parses the S3 answer. When it gives up it
  raises ``MaxRetryError("too many 503 error responses")`` without the S3 error code, and
  hides how many attempts were made, so the one-line
  :class:`~stainworth.errors.StoreUnreachableError` ("still failing after 3 attempts (HTTP 503
  SlowDown)") could not be written. Here the caller classifies the minio
  ``S3Error``/``ServerError`` or the urllib3 cause (see :mod:`stainworth.store.s3_errors`).
- Its waits differ: none after the first failure (``backoff_factor * 2 ** (n - 1)`` starts at
  the second), ``Retry-After`` honoured by default (so the total time depends on the server),
  optional jitter, and ``time.sleep`` hard-wired, so tests could not run without sleeping.
- It logs at DEBUG with the URL; a retry here logs a WARNING that names the store, the action
  and the key.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from stainworth.errors import ConfigError

T = TypeVar("T")

LOGGER = logging.getLogger("stainworth.store")


class RetriesExhausted(Exception):
    """Every attempt of an operation failed with a transient error.

    Parameters
    ----------
    attempts : int
        How many attempts were made.
    last_error : BaseException
        The error of the last attempt.
    """

    def __init__(self, attempts: int, last_error: BaseException) -> None:
        super().__init__(f"gave up after {attempts} attempts: {last_error!r}")
        self.attempts = attempts
        self.last_error = last_error


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry a transient failure.

    Parameters
    ----------
    attempts : int
        Total number of attempts, at least 1 (1 means no retry).
    base_delay : float
        Seconds to wait after the first failed attempt; doubled after each further failure.
    max_delay : float
        Upper bound of any single wait, in seconds.
    sleep : Callable[[float], None]
        Function used to wait; tests inject a recorder so nothing actually sleeps.
    """

    attempts: int = 4
    base_delay: float = 0.25
    max_delay: float = 4.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.attempts, int) or self.attempts < 1:
            raise ConfigError(f"retry attempts {self.attempts!r}: expected an integer >= 1")
        if self.base_delay < 0:
            raise ConfigError(f"retry base_delay {self.base_delay!r}: expected seconds >= 0")
        if self.max_delay < self.base_delay:
            raise ConfigError(
                f"retry max_delay {self.max_delay!r}: expected >= base_delay ({self.base_delay})"
            )

    def delay(self, failures: int) -> float:
        """Seconds to wait after the given number of consecutive failures (1-based).

        Parameters
        ----------
        failures : int
            Failed attempts so far, at least 1.

        Returns
        -------
        float
            ``min(max_delay, base_delay * 2 ** (failures - 1))``.
        """
        return float(min(self.max_delay, self.base_delay * 2 ** (failures - 1)))

    def delays(self) -> list[float]:
        """All waits a fully failing operation goes through (``attempts - 1`` of them)."""
        return [self.delay(failures) for failures in range(1, self.attempts)]

    def run(
        self,
        operation: Callable[[], T],
        is_transient: Callable[[BaseException], bool],
        describe: str = "operation",
    ) -> T:
        """Run ``operation``, retrying transient failures.

        Parameters
        ----------
        operation : Callable[[], T]
            The work to do; called once per attempt, so it must be safe to repeat.
        is_transient : Callable[[BaseException], bool]
            Whether an error may go away by itself (connection refused, timeout, HTTP 5xx).
        describe : str
            What the operation is, for the warning logged before each retry.

        Returns
        -------
        T
            What ``operation`` returned on the first successful attempt.

        Raises
        ------
        RetriesExhausted
            When all attempts failed with transient errors.
        Exception
            The first non-transient error, unchanged.
        """
        for attempt in range(1, self.attempts + 1):
            try:
                return operation()
            except Exception as error:
                if not is_transient(error):
                    raise
                if attempt == self.attempts:
                    raise RetriesExhausted(attempt, error) from error
                wait = self.delay(attempt)
                LOGGER.warning(
                    "%s: attempt %d/%d failed (%s); retrying in %.2f s",
                    describe, attempt, self.attempts, type(error).__name__, wait,
                )
                self.sleep(wait)
        raise AssertionError("unreachable: the loop returns or raises")
