"""Jobs ahead of and behind the caller: order, bounds, errors reaching the caller, threads joined."""

import threading
import time

import pytest

from stainworth.stainers.background import ReadAhead, WriteBehind


def worker_threads():
    return [t for t in threading.enumerate() if t.name.startswith(("stainworth-read-ahead", "stainworth-write-behind"))]


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_read_ahead_in_order_and_bounded(depth):
    received = []
    started = []

    def job(k):
        started.append((k, len(received)))
        time.sleep(0.002)  # slow enough for an unbounded reader to run far ahead
        return k * k

    with ReadAhead(job, 12, depth=depth) as results:
        for value in results:
            received.append(value)
            time.sleep(0.004)
    assert received == [k * k for k in range(12)]
    assert [k for k, _ in started] == list(range(12))
    assert all(k <= seen + max(depth, 1) for k, seen in started), started
    assert not worker_threads()


def test_read_ahead_depth_zero_runs_in_the_caller():
    threads = []
    with ReadAhead(lambda k: threads.append(threading.current_thread()) or k, 3, depth=0) as results:
        assert list(results) == [0, 1, 2]
    assert threads == [threading.current_thread()] * 3
    with ReadAhead(lambda k: k, 0, depth=2) as results:
        assert list(results) == []


@pytest.mark.parametrize("depth", [0, 2])
def test_read_ahead_error_reaches_the_caller(depth):
    def job(k):
        if k == 3:
            raise OSError(f"window {k} unreadable")
        return k

    received = []
    with pytest.raises(OSError, match="window 3 unreadable"), ReadAhead(job, 10, depth=depth) as results:
        for value in results:
            received.append(value)
    assert received == [0, 1, 2]
    assert not worker_threads()


def test_read_ahead_stops_when_the_caller_fails():
    started = []

    def job(k):
        started.append(k)
        return k

    with pytest.raises(KeyError, match="consumer"), ReadAhead(job, 1000, depth=2) as results:
        for value in results:
            if value == 2:
                raise KeyError("consumer")
    assert not worker_threads()
    assert len(started) <= 2 + 1 + 2


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_write_behind_in_order_and_bounded(depth):
    done = []
    with WriteBehind(depth=depth) as behind:
        for k in range(10):
            behind.submit(k % 3, lambda k=k: (time.sleep(0.002), done.append(k)))
            assert k + 1 - len(done) <= depth  # unfinished jobs once submit returns
        behind.wait(1)
        assert {1, 4, 7}.issubset(done)
        behind.drain()
        assert done == list(range(10))
    assert not worker_threads()


def test_write_behind_error_reaches_the_caller():
    def fail():
        raise PermissionError("chunk 2 not writable")

    with pytest.raises(PermissionError, match="chunk 2 not writable"), WriteBehind(depth=2) as behind:
        behind.submit("a", lambda: None)
        behind.submit("b", fail)
        behind.drain()
    assert not worker_threads()
    with pytest.raises(PermissionError, match="chunk 2 not writable"), WriteBehind(depth=0) as behind:
        behind.submit("b", fail)  # run at once: raised at once


def test_negative_depth_refused():
    with pytest.raises(ValueError, match="depth -1"):
        WriteBehind(depth=-1)
