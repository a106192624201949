"""The retraining ledger: which acquisitions have been processed, by content hash.

The ledger is one JSON object in the store, written whole (a single ``put``, which S3 makes
atomic). Only the last task of a retraining advances it, so a run that crashes or loses the store
anywhere before leaves it as it was and the next run sees the same acquisitions as new: nothing is
lost, and nothing is recorded twice.
"""

from __future__ import annotations

import time

from stainworth.contracts.base import validate_model
from stainworth.contracts.manifest import MANIFEST_NAME
from stainworth.contracts.retrain import Detection, Ledger, LedgerRun, RetrainConfig
from stainworth.errors import InputDataError, StoreError
from stainworth.store import Store


def read_ledger(store: Store, key: str) -> Ledger:
    """The ledger at ``key``; an empty one when none has been written yet."""
    if not store.exists(key):
        return Ledger()
    return validate_model(Ledger, store.read_json(key), where=f"{store.uri}/{key}")


def acquisition_hashes(store: Store, prefix: str) -> dict[str, str]:
    """Content hash of every complete acquisition under ``prefix`` (from its manifest)."""
    hashes = {}
    for name in store.complete_folders(prefix):
        key = f"{prefix}/{name}/{MANIFEST_NAME}"
        content_hash = store.read_json(key).get("content_hash")
        if not isinstance(content_hash, str) or not content_hash:
            raise InputDataError(f"{store.uri}/{key}: no content_hash; expected a complete acquisition manifest")
        hashes[name] = content_hash
    return hashes


def detect(store: Store, config: RetrainConfig) -> Detection:
    """New or changed acquisitions against the ledger, the training set, and the holdout.

    Raises
    ------
    InputDataError
        When no holdout is configured or a holdout acquisition is not complete in the store.
    """
    hashes = acquisition_hashes(store, config.acquisitions_prefix)
    if not config.holdout_acquisitions:
        raise InputDataError("retrain.holdout_acquisitions: empty; expected the ids of the acquisitions kept out of "
                             f"training to compare stainer versions on (the store has: {', '.join(hashes) or 'none'})")
    missing = [name for name in config.holdout_acquisitions if name not in hashes]
    if missing:
        raise InputDataError(f"retrain.holdout_acquisitions: {missing} not complete under "
                             f"{store.uri}/{config.acquisitions_prefix}")
    ledger = read_ledger(store, config.ledger_key)
    holdout = set(config.holdout_acquisitions)
    training = sorted(name for name in hashes if name not in holdout)
    pending = {name: hashes[name] for name in training if ledger.processed.get(name) != hashes[name]}
    return Detection(pending=pending, training=training, holdout=sorted(holdout),
                     ledger_processed=dict(ledger.processed))


def advance(store: Store, config: RetrainConfig, detection: Detection, *, run: str,
            models: dict[str, str] | None = None, promoted: dict[str, bool] | None = None) -> Ledger:
    """Record ``detection.pending`` as processed: the last step of a retraining.

    Idempotent: when the ledger already holds every pending acquisition with the same hash (a
    retried last step), it is returned unchanged.

    Raises
    ------
    StoreError
        When the ledger changed since ``detection`` in a way that conflicts with it (another
        retraining processed some of the same acquisitions with other contents).
    """
    ledger = read_ledger(store, config.ledger_key)
    if all(ledger.processed.get(name) == digest for name, digest in detection.pending.items()):
        return ledger
    conflicts = sorted(name for name, digest in ledger.processed.items()
                       if name in detection.pending and digest not in (detection.ledger_processed.get(name),
                                                                       detection.pending[name]))
    if conflicts:
        raise StoreError(f"{store.uri}/{config.ledger_key}: acquisitions {conflicts} were processed by another "
                         "run since this one read the ledger; not advancing it")
    entry = LedgerRun(run=run, finished_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                      acquisitions=dict(detection.pending), models=dict(models or {}),
                      promoted=dict(promoted or {}))
    advanced = Ledger(processed=ledger.processed | detection.pending, runs=[*ledger.runs, entry])
    store.write_json(config.ledger_key, advanced.model_dump(mode="json"))
    return advanced
