"""``make watch``: poll the store for new acquisitions and run ``retrain`` locally when there are some.

Each poll compares the store's acquisitions with the ledger (:func:`stainworth.retrain.ledger.detect`,
a listing and one small read per acquisition). Nothing new: nothing runs. Something new: one local
``retrain`` run, whose last task advances the ledger, so the next poll finds nothing. A poll that
cannot reach the store, or a run that fails, is reported in one line and retried at the next poll:
the ledger is unchanged, so the same acquisitions are found again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from stainworth.contracts.profile import Profile
from stainworth.errors import StainworthError, StoreError
from stainworth.launch.local import LocalRun, run_local
from stainworth.retrain.ledger import detect
from stainworth.store import open_store


@dataclass
class WatchSummary:
    """What a watch did: polls, retraining runs started, those that failed, and the polls that found no store."""

    polls: int = 0
    runs: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    unreachable: list[StoreError] = field(default_factory=list)

    @property
    def never_reached(self) -> StoreError | None:
        """The last poll's error when no poll reached the store (None: some poll did)."""
        if self.polls and len(self.unreachable) == self.polls:
            return self.unreachable[-1]
        return None


def watch(profile: Profile, store_uri: str, *, interval_s: float, max_polls: int | None = None,
          runs_dir: str | Path = "runs", run: Callable[..., LocalRun] = run_local,
          sleep: Callable[[float], None] = time.sleep, echo: Callable[[str], None] = print) -> WatchSummary:
    """Poll every ``interval_s`` seconds (``max_polls`` times, or until interrupted).

    Parameters
    ----------
    profile
        The profile the retraining runs with (its ``retrain`` section says what to watch).
    store_uri
        The store holding acquisitions, ledger and models.
    run
        Runs one pipeline (:func:`~stainworth.launch.local.run_local`; tests pass their own).

    Raises
    ------
    StainworthError
        When the retrain settings do not fit the store (no holdout, a holdout acquisition missing):
        polling again would not help. A store that cannot be reached is retried instead.
    """
    summary = WatchSummary()
    while max_polls is None or summary.polls < max_polls:
        if summary.polls:
            sleep(interval_s)
        summary.polls += 1
        try:
            pending = detect(open_store(store_uri), profile.retrain).pending
        except StoreError as error:
            summary.unreachable.append(error)
            echo(f"watch: poll {summary.polls}: {error}; trying again in {interval_s:g}s")
            continue
        if not pending:
            echo(f"watch: poll {summary.polls}: nothing new")
            continue
        echo(f"watch: poll {summary.polls}: {len(pending)} new acquisition(s) ({', '.join(sorted(pending))}); "
             "running retrain")
        try:
            result = run("retrain", profile, runs_dir=runs_dir, store_uri=store_uri)
        except StainworthError as error:
            summary.failures.append(str(error))
            echo(f"watch: retrain failed: {error}; the ledger is unchanged, the next poll retries")
            continue
        summary.runs.append(result.run_id)
        echo(f"watch: retrain {result.run_id} done in {result.seconds:.0f}s")
        left = _still_pending(store_uri, profile, pending)
        if left:
            summary.failures.append(f"{result.run_id}: the ledger did not advance")
            echo(f"watch: retrain {result.run_id} finished but the ledger still lacks {', '.join(left)}; "
                 f"see {result.run_dir / 'run.log'}")
    return summary


def _still_pending(store_uri: str, profile: Profile, pending: dict[str, str]) -> list[str]:
    """Acquisitions a finished run should have recorded but the ledger does not hold (empty: all there)."""
    try:
        now = detect(open_store(store_uri), profile.retrain).pending
    except StoreError:
        return []  # the next poll will tell
    return sorted(name for name, digest in pending.items() if now.get(name) == digest)
