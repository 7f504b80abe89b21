"""The request-level retry policy on urllib3's own objects: the waits it chooses and how it counts them."""

import pytest
from urllib3 import HTTPResponse
from urllib3.exceptions import NewConnectionError, ProtocolError, ReadTimeoutError
from urllib3.util.retry import RequestHistory

from stages.common.config import RedditConfig
from stages.sources.reddit_http import RetryLog, request_retry, retry_cause


def failed(status: int, headers: dict | None = None, times: int = 1, **reddit) -> tuple[list[float], RetryLog]:
    """The waits a request's retry policy sleeps after `times` failures in a row with `status`."""
    pauses, log = [], RetryLog()
    retry = request_retry(RedditConfig(**({"backoff_s": 1.0, "max_tries": 10} | reddit)), log, pauses.append)
    for _ in range(times):
        response = HTTPResponse(status=status, headers=headers or {})
        retry = retry.increment("GET", "/comments/abc/?raw_json=1", response=response)
        retry.sleep(response)
    return pauses, log


def test_waits_double_from_the_first_retry_with_up_to_half_again_of_jitter():
    pauses, log = failed(503, times=4)
    for wait_s, base in zip(pauses, (1.0, 2.0, 4.0, 8.0), strict=True):
        assert base <= wait_s <= 1.5 * base
    assert log.causes["5xx"] == 4 and log.wait_s == pytest.approx(sum(pauses))


def test_no_backoff_is_longer_than_max_backoff_s():
    pauses, _ = failed(500, times=6, max_backoff_s=5.0)
    assert max(pauses) == 5.0 and pauses[-1] == 5.0


def test_retry_after_is_waited_even_beyond_the_cap():
    pauses, _ = failed(429, {"Retry-After": "30"}, max_backoff_s=5.0)
    assert pauses == [30.0]


def test_a_429_with_the_quota_spent_waits_for_the_window_to_reset():
    spent = {"x-ratelimit-remaining": "0.0", "x-ratelimit-used": "1000", "x-ratelimit-reset": "42"}
    assert failed(429, spent)[0] == [42.0]
    assert failed(429, spent | {"Retry-After": "50"})[0] == [50.0]  # whichever asks more


def test_a_429_with_quota_left_is_a_burst_limit_not_the_windows_end():
    left = {"x-ratelimit-remaining": "250.0", "x-ratelimit-used": "750", "x-ratelimit-reset": "42"}
    pauses, log = failed(429, left)
    assert 1.0 <= pauses[0] <= 1.5 and log.causes["429"] == 1
    assert (
        failed(503, {"x-ratelimit-remaining": "0.0", "x-ratelimit-reset": "42"})[0][0] <= 1.5
    )  # a reset is a 429's only
    assert (
        failed(429, {"x-ratelimit-remaining": "0.0", "x-ratelimit-reset": "soon"})[0][0] <= 1.5
    )  # not a number: backoff


@pytest.mark.parametrize(
    ("status", "error", "cause"),
    [
        (429, None, "429"),
        (502, None, "5xx"),
        (408, None, "timeout"),
        (None, ReadTimeoutError(None, "/x", "Read timed out."), "timeout"),
        (None, NewConnectionError(None, "Connection refused"), "connection"),
        (None, ProtocolError("Connection aborted.", ConnectionResetError()), "connection"),
    ],
)
def test_each_retry_is_counted_under_its_cause(status, error, cause):
    assert retry_cause(RequestHistory("GET", "/x", error, status, None)) == cause
