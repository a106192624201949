"""make watch: one retrain per batch of new acquisitions, none when nothing is new, outages survived."""

import pytest

from stainworth.contracts.manifest import OutputManifest, write_manifest
from stainworth.errors import InputDataError, PipelineError
from stainworth.launch.local import LocalRun
from stainworth.launch.watch import watch
from stainworth.profiles import load_profile
from stainworth.retrain.ledger import advance, detect
from stainworth.store import open_store


def add_acquisition(store_uri, tmp_path, name):
    folder = tmp_path / "staging" / name
    folder.mkdir(parents=True)
    (folder / "tile.bin").write_text(name)
    write_manifest(OutputManifest(stage="ingest", config={}, config_hash="0" * 64), folder)
    open_store(store_uri).publish_dir(folder, f"acquisitions/{name}")


class Retrain:
    """Stands in for the local retrain run: does what its last task does (advance the ledger)."""

    def __init__(self, fail_first=False):
        self.calls, self.fail_first = [], fail_first

    def __call__(self, pipeline, profile, *, runs_dir, store_uri):
        self.calls.append(pipeline)
        if self.fail_first and len(self.calls) == 1:
            raise PipelineError("pipeline 'retrain' failed: train-stainer: out of memory (log: x)")
        store = open_store(store_uri)
        advance(store, profile.retrain, detect(store, profile.retrain), run=f"run-{len(self.calls)}")
        return LocalRun(run_id=f"run-{len(self.calls)}", run_dir=runs_dir, store_uri=store_uri, outputs={},
                        seconds=1.0)


def profile():
    return load_profile("smoke", ["retrain.holdout_acquisitions=[hold]"])


def test_one_retrain_per_arrival_and_none_without(tmp_path):
    store_uri = f"file://{tmp_path}/store"
    for name in ("hold", "a1"):
        add_acquisition(store_uri, tmp_path, name)
    retrain, lines, polls = Retrain(), [], []

    def sleep(seconds):
        polls.append(seconds)
        if len(polls) == 2:
            add_acquisition(store_uri, tmp_path, "a2")

    summary = watch(profile(), store_uri, interval_s=5, max_polls=4, runs_dir=tmp_path, run=retrain, sleep=sleep,
                    echo=lines.append)
    assert retrain.calls == ["retrain", "retrain"] and summary.runs == ["run-1", "run-2"]
    assert polls == [5, 5, 5] and summary.polls == 4
    assert lines[0] == "watch: poll 1: 1 new acquisition(s) (a1); running retrain"
    assert lines[2] == "watch: poll 2: nothing new"
    assert lines[3] == "watch: poll 3: 1 new acquisition(s) (a2); running retrain"
    assert lines[5] == "watch: poll 4: nothing new"


def test_a_failed_retrain_is_retried_at_the_next_poll(tmp_path):
    store_uri = f"file://{tmp_path}/store"
    for name in ("hold", "a1"):
        add_acquisition(store_uri, tmp_path, name)
    retrain, lines = Retrain(fail_first=True), []
    summary = watch(profile(), store_uri, interval_s=0, max_polls=3, runs_dir=tmp_path, run=retrain,
                    sleep=lambda s: None, echo=lines.append)
    assert len(retrain.calls) == 2 and summary.runs == ["run-2"] and len(summary.failures) == 1
    assert lines[1].startswith("watch: retrain failed: pipeline 'retrain' failed")
    assert lines[1].endswith("the ledger is unchanged, the next poll retries")
    assert lines[2] == "watch: poll 2: 1 new acquisition(s) (a1); running retrain"


def test_a_store_that_goes_away_between_polls(tmp_path, s3_outage, new_bucket):
    store_uri = f"s3://{new_bucket('watch')}/lab"
    for name in ("hold", "a1"):
        add_acquisition(store_uri, tmp_path, name)
    retrain, lines = Retrain(), []
    s3_outage.cut()

    def sleep(seconds):
        s3_outage.restore()

    summary = watch(profile(), store_uri, interval_s=1, max_polls=2, runs_dir=tmp_path, run=retrain, sleep=sleep,
                    echo=lines.append)
    assert lines[0].startswith(f"watch: poll 1: store {store_uri}") and "unreachable" in lines[0]
    assert lines[0].endswith("; trying again in 1s")
    assert "\n" not in lines[0]
    assert summary.runs == ["run-1"] and lines[1].startswith("watch: poll 2: 1 new acquisition(s) (a1)")


def test_a_missing_holdout_stops_the_watch_at_once(tmp_path):
    store_uri = f"file://{tmp_path}/store"
    add_acquisition(store_uri, tmp_path, "a1")
    with pytest.raises(InputDataError, match=r"retrain.holdout_acquisitions: empty; .*\(the store has: a1\)"):
        watch(load_profile("smoke"), store_uri, interval_s=0, max_polls=3, run=Retrain(), sleep=lambda s: None,
              echo=print)


def test_a_run_that_does_not_advance_the_ledger_is_reported(tmp_path):
    store_uri = f"file://{tmp_path}/store"
    for name in ("hold", "a1"):
        add_acquisition(store_uri, tmp_path, name)

    def does_nothing(pipeline, profile, *, runs_dir, store_uri):
        return LocalRun(run_id="run-x", run_dir=tmp_path, store_uri=store_uri, outputs={}, seconds=1.0)

    lines = []
    summary = watch(profile(), store_uri, interval_s=0, max_polls=1, run=does_nothing, sleep=lambda s: None,
                    echo=lines.append)
    assert summary.failures == ["run-x: the ledger did not advance"]
    assert lines[-1] == f"watch: retrain run-x finished but the ledger still lacks a1; see {tmp_path / 'run.log'}"
