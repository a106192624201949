import pytest

from stainworth.errors import ConfigError
from stainworth.store.retry import RetriesExhausted, RetryPolicy


def flaky(failures, error=ConnectionRefusedError):
    calls = []

    def operation():
        calls.append(1)
        if len(calls) <= failures:
            raise error("down")
        return "done"

    return operation, calls


def test_delays_double_and_are_capped():
    assert RetryPolicy().delays() == [0.25, 0.5, 1.0]
    capped = RetryPolicy(attempts=6, base_delay=1.0, max_delay=3.0)
    assert capped.delays() == [1.0, 2.0, 3.0, 3.0, 3.0]
    assert RetryPolicy(attempts=1).delays() == []


def test_transient_failures_are_retried_until_success():
    waits = []
    operation, calls = flaky(2)
    policy = RetryPolicy(attempts=4, sleep=waits.append)
    assert policy.run(operation, lambda error: isinstance(error, ConnectionError)) == "done"
    assert len(calls) == 3
    assert waits == [0.25, 0.5]


def test_exhaustion_reports_attempts_and_last_error():
    waits = []
    operation, calls = flaky(10)
    with pytest.raises(RetriesExhausted) as caught:
        RetryPolicy(attempts=3, sleep=waits.append).run(operation, lambda error: True)
    assert caught.value.attempts == 3 and len(calls) == 3
    assert isinstance(caught.value.last_error, ConnectionRefusedError)
    assert waits == [0.25, 0.5]


def test_other_errors_are_not_retried():
    waits = []
    operation, calls = flaky(1, error=PermissionError)
    with pytest.raises(PermissionError):
        RetryPolicy(sleep=waits.append).run(operation, lambda e: isinstance(e, ConnectionError))
    assert len(calls) == 1 and waits == []


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        ({"attempts": 0}, r"retry attempts 0: expected an integer >= 1"),
        ({"base_delay": -1.0}, r"retry base_delay -1.0: expected seconds >= 0"),
        ({"base_delay": 2.0, "max_delay": 1.0}, r"retry max_delay 1.0: expected >= base_delay"),
    ],
)
def test_bad_policies_refused(options, pattern):
    with pytest.raises(ConfigError, match=pattern):
        RetryPolicy(**options)
