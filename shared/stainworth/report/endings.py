"""How the trainings of a task ended, and the seeds they started from (from ``units.csv``).

Every training (one row of ``units.csv``) ended in one of three ways (``ended``): early stopping
on its validation loss (``early_stop``, what the study's networks did), its epoch cap
(``epoch_cap``: possibly under-trained) or a retraining with a fresh seed after a degenerate first
attempt (``degenerate_retrained``, e.g. a constant output). A training still degenerate after its
last attempt is kept and flagged (``degenerate``: the reason, empty when it is not).
:func:`ending_shares` counts the endings overall and per architecture; :func:`seed_table` lists
the initialisation seeds (``init_seed``: derived from the profile's seed, the subset, the
replicate and the attempt; shared by the modalities of a training, so that they stay paired).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from stainworth.errors import InputDataError
from stainworth.report.labels import count, is_missing

ENDINGS = ("early_stop", "epoch_cap", "degenerate_retrained")
"""The values of ``ended``, in the order shown."""
ENDING_WORDS = {"early_stop": "stopped early", "epoch_cap": "ran to the epoch cap",
                "degenerate_retrained": "retrained after a degenerate attempt"}
ALL = "all"
"""The ``architecture`` of the row counting every training."""


def _check_endings(units: pd.DataFrame) -> None:
    found = [str(value) for value in units["ended"]]
    unknown = sorted(set(found) - set(ENDINGS))
    if unknown:
        rows = sum(value in unknown for value in found)
        raise InputDataError(f"units.csv: ended {unknown[0]!r} in {rows} row(s); expected one of {', '.join(ENDINGS)}")


def still_degenerate(units: pd.DataFrame) -> pd.Series:
    """Whether each training is still degenerate after its last attempt (``degenerate`` not empty)."""
    if "degenerate" not in units.columns:
        return pd.Series(False, index=units.index)
    return units["degenerate"].map(lambda reason: not is_missing(reason) and str(reason).strip() != "")


def ending_shares(units: pd.DataFrame) -> pd.DataFrame:
    """Counts and shares of each ending, over all trainings and per architecture.

    Parameters
    ----------
    units : pandas.DataFrame
        ``units.csv``: ``architecture``, ``capacity``, ``ended`` (``degenerate`` optional).

    Returns
    -------
    pandas.DataFrame
        One row for ``all`` trainings, then one per architecture in increasing capacity:
        ``architecture``, ``trainings``, the count of each ending (``early_stop``, ``epoch_cap``,
        ``degenerate_retrained``), its share (``<ending>_share``, in [0, 1]) and ``still_degenerate``
        (trainings kept although degenerate after their last attempt).

    Raises
    ------
    InputDataError
        An ``ended`` value other than the three endings.
    """
    _check_endings(units)
    flagged = still_degenerate(units)
    order = units.groupby("architecture")["capacity"].min().sort_values(kind="stable").index
    groups = [(ALL, units.index)] + [(str(name), units.index[units["architecture"] == name]) for name in order]
    rows = []
    for name, index in groups:
        ended = units.loc[index, "ended"].astype(str)
        row: dict[str, Any] = {"architecture": name, "trainings": len(index)}
        for ending in ENDINGS:
            row[ending] = int((ended == ending).sum())
            row[f"{ending}_share"] = row[ending] / len(index) if len(index) else float("nan")
        rows.append(row | {"still_degenerate": int(flagged.loc[index].sum())})
    return pd.DataFrame(rows)


def share(part: int, whole: int) -> str:
    """``3 of 8 (38%)``."""
    return f"{part:,} of {whole:,} ({100 * part / whole:.0f}%)" if whole else f"{part:,} of 0"


def shares_display(shares: pd.DataFrame) -> pd.DataFrame:
    """:func:`ending_shares` as display strings: ``3 of 8 (38%)`` per ending."""
    rows = []
    for _, row in shares.iterrows():
        total = int(row["trainings"])
        shown = {"networks": "all trainings" if row["architecture"] == ALL else str(row["architecture"]),
                 "trainings": count(total)}
        shown |= {ENDING_WORDS[ending]: share(int(row[ending]), total) for ending in ENDINGS}
        rows.append(shown | {"still degenerate, kept and flagged": share(int(row["still_degenerate"]), total)})
    return pd.DataFrame(rows)


def ending_sentence(task: str, shares: pd.DataFrame) -> str:
    """One sentence on how the trainings of ``task`` ended (the ``all`` row of :func:`ending_shares`)."""
    row = shares.iloc[0]
    total = int(row["trainings"])
    parts = [f"{share(int(row[ending]), total)} {ENDING_WORDS[ending]}" for ending in ENDINGS]
    flagged = int(row["still_degenerate"])
    tail = (f"; {flagged:,} {'is' if flagged == 1 else 'are'} still degenerate after the last attempt and kept, "
            "flagged in the units table" if flagged else "")
    return f"{task}: of the {total:,} trainings, {parts[0]}, {parts[1]} and {parts[2]}{tail}."


def profile_seed(settings: Mapping[str, Any], task: str) -> int | None:
    """``tasks.<task>.training.seed`` of the report's settings (the resolved profile), or None when absent."""
    node: Any = settings
    for key in ("tasks", task, "training", "seed"):
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    try:
        return int(node)
    except (TypeError, ValueError):
        return None


def seed_sentence(task: str, given: int | None, recorded: int) -> str:
    """Where the seeds come from: the profile's training seed, as given to the report and as the units recorded."""
    field = f"tasks.{task}.training.seed"
    if given is None:
        start = (f"{task}: profile seed {field} = {recorded} (as the evaluation recorded it; the report's settings "
                 "hold none)")
    elif given != recorded:
        start = (f"{task}: profile seed {field} = {given} in the report's settings, but the evaluated units were "
                 f"trained with {recorded}")
    else:
        start = f"{task}: profile seed {field} = {given}"
    return (f"{start}. Each training's initialisation and batch-order seed derives from it, the training subset, "
            "the replicate and the attempt; the modalities of one training share it (paired design).")


def seed_table(units: pd.DataFrame) -> pd.DataFrame:
    """The initialisation seeds of the trainings, one row per (sweep, subset, replicate, seed).

    Parameters
    ----------
    units : pandas.DataFrame
        ``units.csv``: ``train_size``, ``subset``, ``replicate``, ``init_seed``, ``ended``.

    Returns
    -------
    pandas.DataFrame
        Display strings: ``sweep`` (``capacity`` or ``n = <size>``), ``subset``, ``replicate``,
        ``initialisation seed``, ``trainings`` (how many trainings used it) and ``retrained``
        (how many of them after a degenerate attempt).
    """
    frame = units.assign(_size=pd.to_numeric(units["train_size"], errors="coerce").fillna(-1),
                         _retrained=units["ended"].astype(str) == "degenerate_retrained")
    keys = ["_size", "subset", "replicate", "init_seed"]
    grouped = frame.groupby(keys, sort=True).agg(trainings=("run", "size"),
                                                                retrained=("_retrained", "sum")).reset_index()
    rows = []
    for _, row in grouped.iterrows():
        sweep = "capacity" if row["_size"] < 0 else f"n = {int(row['_size']):,}"
        rows.append({"sweep": sweep, "subset": count(row["subset"]), "replicate": count(row["replicate"]),
                     "initialisation seed": str(int(row["init_seed"])), "trainings": count(row["trainings"]),
                     "retrained": count(row["retrained"])})
    return pd.DataFrame(rows, columns=["sweep", "subset", "replicate", "initialisation seed", "trainings",
                                       "retrained"])
