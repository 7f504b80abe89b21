"""Exponential backoff for calls that fail for a while and then work again.

Reddit answers 429 when a client goes too fast, 5xx when it is overloaded, and
sometimes not at all; each passes if the client waits, longer each time. What counts
as transient is the caller's to say, and the sleep is a parameter, so tests run
without waiting. (The scrape retries each HTTP request below PRAW, in
sources/reddit_http.py, and this only for whole fetches that fail beyond its reach.)
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from stages.common.errors import StageError

Result = TypeVar("Result")


@dataclass(frozen=True)
class RetryPolicy:
    max_tries: int
    backoff_s: float
    is_transient: Callable[[Exception], bool]
    sleep: Callable[[float], None] = time.sleep
    max_backoff_s: float = math.inf


def backoff_wait_s(failures: int, backoff_s: float, max_backoff_s: float = math.inf) -> float:
    """The wait after the `failures`-th failure in a row: backoff_s, then doubling, up to max_backoff_s."""
    return min(max_backoff_s, backoff_s * 2 ** (failures - 1))


def tries_text(tries: int) -> str:
    return "1 try" if tries == 1 else f"{tries} tries"


def call_with_retries(
    call: Callable[[], Result],
    what: str,
    policy: RetryPolicy,
    on_retry: Callable[[Exception, float], None] = lambda error, wait_s: None,
) -> Result:
    """Return call(); retry transient failures, then give up with a StageError naming `what`."""
    for attempt in range(1, policy.max_tries + 1):
        try:
            return call()
        except Exception as error:
            if not policy.is_transient(error):
                raise
            if attempt == policy.max_tries:
                raise StageError(f"gave up {what} after {tries_text(attempt)}: {error}") from error
            wait_s = backoff_wait_s(attempt, policy.backoff_s, policy.max_backoff_s)
            on_retry(error, wait_s)
            policy.sleep(wait_s)
    raise AssertionError("unreachable: max_tries >= 1")
