"""User-facing errors.

Every error a user can cause is a :class:`StainworthError` whose message is one line naming the
file or field, what was found, and what was expected. Entry points (CLI, component bodies) print
that line and exit non-zero; they never show a traceback for these. Each also subclasses the
builtin a Python caller would catch for its kind: a bad value or file is a ``ValueError``, a key
not in the store a ``LookupError``, an unreachable store a ``ConnectionError``, rejected
credentials a ``PermissionError``, a failed run or training a ``RuntimeError``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable


class StainworthError(Exception):
    """An error the user can fix; its message is a single line."""

    exit_code = 2
    label = "error"
    """The word after ``stainworth:`` on the console."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class ConfigError(StainworthError, ValueError):
    """A configuration value, profile or parameter is invalid."""


class StoreError(StainworthError):
    """The object store failed or cannot be reached."""


class MissingKeyError(StoreError, LookupError):
    """A key (or a complete output under a prefix) does not exist in the store."""


class StoreUnreachableError(StoreError, ConnectionError):
    """The store endpoint did not answer after bounded retries."""


class CredentialsError(StoreError, PermissionError):
    """Store credentials are missing or rejected."""


class InputDataError(StainworthError, ValueError):
    """An input file or artifact is missing, malformed or inconsistent."""


class PipelineError(StainworthError, RuntimeError):
    """A pipeline name is unknown or a pipeline run failed."""


class TrainingError(StainworthError, RuntimeError):
    """Training cannot go on (a NaN/Inf loss, an unusable checkpoint)."""


class RunStopped(StainworthError):
    """A local run was stopped by a signal (Ctrl-C, SIGTERM, SIGHUP); its exit code is 128 + the signal."""

    label = "stopped"

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum


def run_command(command: Callable[[], int]) -> int:
    """Run a command-line entry point; return its exit code.

    A :class:`StainworthError` becomes one line on standard error (``stainworth: error: ...``) and
    its exit code; an interrupt, exit code 130.
    """
    try:
        return command()
    except StainworthError as error:
        print(f"stainworth: {error.label}: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("stainworth: interrupted", file=sys.stderr)
        return 130
