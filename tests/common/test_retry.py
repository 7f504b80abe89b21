import pytest

from stages.common.errors import StageError
from stages.common.retry import RetryPolicy, backoff_wait_s, call_with_retries


class Flaky(Exception):
    pass


def failing(times: int, error: Exception):
    """A call that raises `error` `times` times, then returns how many calls it took."""
    calls = []

    def call():
        calls.append(1)
        if len(calls) <= times:
            raise error
        return len(calls)

    return call


def policy(sleeps: list, max_tries: int = 4) -> RetryPolicy:
    return RetryPolicy(
        max_tries=max_tries, backoff_s=0.5, is_transient=lambda e: isinstance(e, Flaky), sleep=sleeps.append
    )


def test_waits_double_from_the_first():
    assert [backoff_wait_s(n, 0.5) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]


def test_no_wait_is_longer_than_the_cap():
    assert [backoff_wait_s(n, 0.5, max_backoff_s=1.5) for n in (1, 2, 3, 4)] == [0.5, 1.0, 1.5, 1.5]


def test_transient_failures_are_retried_with_growing_waits():
    sleeps, retried = [], []
    result = call_with_retries(failing(2, Flaky("429")), "listing", policy(sleeps), lambda e, w: retried.append(w))
    assert result == 3
    assert sleeps == [0.5, 1.0] == retried


def test_gives_up_after_max_tries_naming_what_failed():
    sleeps = []
    call = failing(10, Flaky("received 500 HTTP response"))
    with pytest.raises(StageError, match=r"gave up fetching page 3 after 4 tries: received 500 HTTP response"):
        call_with_retries(call, "fetching page 3", policy(sleeps))
    assert sleeps == [0.5, 1.0, 2.0]


def test_other_errors_pass_through_at_once():
    sleeps = []
    with pytest.raises(KeyError):
        call_with_retries(failing(1, KeyError("bug")), "x", policy(sleeps))
    assert sleeps == []


def test_one_try_means_no_retry():
    with pytest.raises(StageError, match="after 1 try: down"):
        call_with_retries(failing(1, Flaky("down")), "x", policy([], max_tries=1))
