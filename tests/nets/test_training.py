"""Shared training machinery: epoch seeds, fingerprints, early-stopping state, atomic checkpoints and weights."""

import math

import pytest
import torch
from torch import nn

from stainworth.errors import TrainingError
from stainworth.nets.training import (
    TrainingState,
    epoch_seed,
    fingerprint,
    improves,
    load_checkpoint,
    load_weights,
    not_finite_note,
    resume,
    save_checkpoint,
    save_weights,
)


def parts(seed):
    torch.manual_seed(seed)
    net = nn.Linear(3, 2)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.1)
    net(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    return {"net": net, "optimizer": optimizer}


def test_epoch_seeds_depend_on_seed_and_epoch_only():
    assert epoch_seed(3, 1) == epoch_seed(3, 1)
    assert len({epoch_seed(s, e) for s in range(3) for e in range(1, 4)}) == 9
    assert epoch_seed(0, 1) == 3788302525  # pinned: resuming older stainer checkpoints needs the same seeds


def test_fingerprints_ignore_key_order_and_see_every_value():
    assert fingerprint({"a": 1, "b": [1, 2]}) == fingerprint({"b": [1, 2], "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2}) and len(fingerprint({})) == 64


def test_state_records_epochs_and_stops_after_patience_stale_epochs():
    state = TrainingState(fingerprint="f")
    assert state.running(max_epochs=5, patience=2)
    improved = [state.record({"val_loss": v}) for v in (3.0, 2.0, 2.5, 2.0)]
    assert improved == [True, True, False, False]
    assert (state.epoch, state.best_epoch, state.best_loss, state.stale) == (4, 2, 2.0, 2)
    assert not state.running(max_epochs=5, patience=2) and state.running(max_epochs=5, patience=3)
    assert not state.running(max_epochs=4, patience=3)
    assert not state.record({"val_loss": math.nan}) and state.stale == 3


def test_a_minimum_relative_improvement_leaves_creeping_losses_stale_for_early_stopping_only():
    state = TrainingState(fingerprint="f")
    lowest = [state.record({"val_loss": v}, min_improvement=0.01) for v in (1.0, 0.995, 0.991, 0.98, 0.975, 0.99)]
    assert lowest == [True, True, True, True, True, False]  # the best epoch follows every decrease
    assert (state.best_epoch, state.best_loss) == (5, 0.975)
    assert (state.progress_loss, state.stale) == (0.98, 2)  # early stopping only counts 1% steps
    assert improves(0.995, 1.0) and not improves(0.995, 1.0, 0.01) and improves(0.989, 1.0, 0.01)
    assert improves(5.0, math.inf, 0.5) and not improves(math.nan, math.inf, 0.0)


def test_a_checkpoint_restores_every_part_and_the_state(tmp_path):
    path = tmp_path / "checkpoint.pt"
    saved = parts(0)
    state = TrainingState(fingerprint="abc")
    state.record({"val_loss": 1.5, "epoch": 1.0})
    save_checkpoint(path, saved, state)
    assert not path.with_suffix(".tmp").exists()
    loaded = parts(1)
    assert load_checkpoint(path, loaded, "abc") == state
    assert torch.equal(loaded["net"].weight, saved["net"].weight)
    assert loaded["optimizer"].state_dict()["state"][0]["step"] == saved["optimizer"].state_dict()["state"][0]["step"]
    assert resume(path, parts(2), "abc").epoch == 1
    assert resume(tmp_path / "none.pt", parts(2), "abc") == TrainingState(fingerprint="abc")


def test_checkpoints_of_another_configuration_or_unreadable_are_refused(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, parts(0), TrainingState(fingerprint="abc"))
    with pytest.raises(TrainingError, match=r"checkpoint.pt: checkpoint of a different training configuration or "
                                            r"data; delete it or use another output folder"):
        load_checkpoint(path, parts(0), "xyz")
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(TrainingError, match=r"checkpoint.pt: unreadable checkpoint \(\w+\); delete it to start over"):
        resume(path, parts(0), "abc")


def test_a_checkpoint_that_cannot_be_written_fails_in_one_line_and_keeps_the_previous(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    first = TrainingState(fingerprint="abc")
    first.record({"val_loss": 1.0})
    save_checkpoint(path, parts(0), first)

    def full_disk(payload, target):
        with open(target, "wb") as stream:
            stream.write(b"partial")
        raise RuntimeError("basic_ios::clear: iostream error\nmore detail")

    monkeypatch.setattr(torch, "save", full_disk)
    second = TrainingState(fingerprint="abc", epoch=2)
    with pytest.raises(TrainingError) as failed:
        save_checkpoint(path, parts(1), second)
    message = str(failed.value)
    assert message.startswith(f"{path}: could not write the checkpoint after epoch 2 "
                              "(basic_ios::clear: iostream error; ")
    assert "GB free); the previous checkpoint is kept, a retry resumes from it" in message and "\n" not in message
    monkeypatch.undo()
    assert not path.with_suffix(".tmp").exists() and load_checkpoint(path, parts(2), "abc") == first


def test_weights_round_trip_through_safetensors(tmp_path):
    path = tmp_path / "best.safetensors"
    source, target = parts(0)["net"], parts(1)["net"]
    save_weights(path, source)
    assert not path.with_suffix(".tmp").exists()
    load_weights(path, target)
    assert all(torch.equal(a, b) for a, b in zip(source.state_dict().values(), target.state_dict().values(),
                                                 strict=True))


def test_the_note_says_what_a_failed_epoch_leaves(tmp_path):
    assert not_finite_note(1, tmp_path / "c.pt") == "nothing was saved"
    assert not_finite_note(3, tmp_path / "c.pt") == f"the checkpoint of epoch 2 is kept in {tmp_path / 'c.pt'}"
