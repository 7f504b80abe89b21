"""HTTP below PRAW: each request to Reddit is retried on its own, so a failure costs
that one request again, not the hundreds of requests of a big thread.

PRAW sends every request through a prawcore Requestor, and that through a requests
Session. RetryingRequestor mounts urllib3's Retry (RequestRetry here) on the session's
adapters: a 429, a 5xx (or 408), a timeout or a dropped connection is sent again after
a wait, up to data.reddit.max_tries tries in all. A request that succeeds after
retries is invisible to PRAW, so replace_more goes on from where it was.

The wait before the n-th retry is backoff_s * 2**(n-1), up to half as much again of
jitter (clients that failed together should not retry together), capped at
max_backoff_s; but never shorter than the server asked: Retry-After, or on a 429
with the quota spent, x-ratelimit-reset (the end of Reddit's 10-minute window).

How this composes with prawcore's own retries, so that max_tries means what it says:
prawcore sends a request up to three times on a 5xx, a timeout or a dropped
connection. It never sees a 5xx now, since urllib3 raises when it gives up on a
status; and a request urllib3 gave up on reaches prawcore as RequestGaveUp, which it
does not send again. What prawcore still retries, twice, is a body cut off after its
headers: requests reads bodies after urllib3 is done with the request. What fails
that third time is left to the retry of the whole fetch (sources/reddit.py).
"""

import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import prawcore
import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from tqdm import tqdm
from urllib3 import BaseHTTPResponse
from urllib3.util.retry import RequestHistory, Retry

from stages.common.config import RedditConfig
from stages.common.retry import tries_text

TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 520, 522})
# A scraper's POSTs (the token, morechildren) change nothing, so sending them again is safe.
RETRIED_METHODS = frozenset({"GET", "POST"})
RETRY_CAUSES = ("429", "5xx", "timeout", "connection")
JITTER = 0.5
RATE_WINDOW_S = 600  # Reddit's quota window: the longest wait a server may ask of us


def retry_cause(failure: RequestHistory) -> str:
    if failure.status == 429:
        return "429"
    # NewConnectionError is a ConnectTimeoutError to urllib3, but a refusal, not a timeout.
    if failure.status == 408 or (
        isinstance(failure.error, urllib3.exceptions.TimeoutError)
        and not isinstance(failure.error, urllib3.exceptions.NewConnectionError)
    ):
        return "timeout"
    return "5xx" if failure.status else "connection"


@dataclass
class RetryLog:
    """The request retries of one client: how many by cause, and the seconds waited."""

    causes: Counter = field(default_factory=lambda: Counter(dict.fromkeys(RETRY_CAUSES, 0)))
    wait_s: float = 0.0

    @property
    def retries(self) -> int:
        return sum(self.causes.values())

    def record(self, failure: RequestHistory, wait_s: float) -> None:
        self.causes[retry_cause(failure)] += 1
        self.wait_s += wait_s
        what = f"received {failure.status}" if failure.status else str(failure.error)
        tqdm.write(
            f"ahf scrape: {failure.method} {urlsplit(failure.url).path}: {what}; retrying in {wait_s:.2f} s",
            file=sys.stderr,
        )


def window_reset_s(response: BaseHTTPResponse) -> float | None:
    """On a 429 with the quota spent, the seconds until Reddit's window resets; else None.

    A 429 with requests left in the window is a burst limit, not the end of the quota:
    waiting for the window to end would idle for up to 10 minutes for nothing.
    """
    try:
        remaining = float(response.headers.get("x-ratelimit-remaining", "0"))
        reset_s = float(response.headers["x-ratelimit-reset"])
    except (KeyError, ValueError):
        return None
    return reset_s if response.status == 429 and remaining < 1 else None


class RequestRetry(Retry):
    """urllib3's Retry with ahf's waits, each recorded in a RetryLog and slept by `pause`."""

    def __init__(self, total: int, *, log: RetryLog, pause: Callable[[float], None] = time.sleep, **options: Any):
        super().__init__(total, **options)
        self.log, self.pause = log, pause

    def new(self, **options: Any) -> "RequestRetry":
        # urllib3 copies a Retry for every try; the copy must keep the log and the sleep.
        return super().new(log=self.log, pause=self.pause, **options)

    def get_backoff_time(self) -> float:
        """backoff_factor before the first retry, doubling: urllib3 would not wait before the first."""
        if not self.history:
            return 0.0
        wait_s = self.backoff_factor * 2 ** (len(self.history) - 1) * (1 + JITTER * random.random())
        return min(self.backoff_max, wait_s)

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        asked = super().get_retry_after(response)
        if (reset_s := window_reset_s(response)) is not None:
            asked = max(asked or 0.0, min(reset_s, self.retry_after_max))
        return asked

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        asked = self.get_retry_after(response) if response is not None else None
        wait_s = max(self.get_backoff_time(), asked or 0.0)
        self.log.record(self.history[-1], wait_s)
        self.pause(wait_s)


def request_retry(config: RedditConfig, log: RetryLog, pause: Callable[[float], None] = time.sleep) -> RequestRetry:
    return RequestRetry(
        config.max_tries - 1,
        status_forcelist=TRANSIENT_STATUSES,
        allowed_methods=RETRIED_METHODS,
        backoff_factor=config.backoff_s,
        backoff_max=config.max_backoff_s,
        retry_after_max=RATE_WINDOW_S,
        raise_on_status=True,  # not the last bad response: prawcore would resend a 5xx twice more
        log=log,
        pause=pause,
    )


class RequestGaveUp(Exception):
    """A request that failed max_tries times; prawcore passes it on without sending it again."""


def gave_up(error: Exception, tries: int) -> RequestGaveUp | None:
    """requests' wrapping of urllib3's MaxRetryError, as one line saying what failed, how often, why."""
    exhausted = error.args[0] if isinstance(error, requests.RequestException) and error.args else None
    if not isinstance(exhausted, urllib3.exceptions.MaxRetryError) or error.request is None:
        return None
    path = urlsplit(error.request.url).path
    return RequestGaveUp(f"gave up on {error.request.method} {path} after {tries_text(tries)}: {exhausted.reason}")


class RetryingRequestor(prawcore.Requestor):
    """prawcore's Requestor on a session that retries each request, with our timeout."""

    def __init__(self, *, retry: RequestRetry, timeout: float, **requestor_options: Any):
        session = requests.Session()
        adapter = HTTPAdapter(max_retries=retry)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        super().__init__(session=session, timeout=timeout, **requestor_options)
        self.tries = retry.total + 1

    def request(self, *args: Any, timeout: float | None = None, **kwargs: Any) -> requests.Response:
        # prawcore passes its import-time default timeout with every API call; send ours.
        try:
            return super().request(*args, timeout=self.timeout, **kwargs)
        except prawcore.RequestException as failure:
            if given_up := gave_up(failure.original_exception, self.tries):
                raise prawcore.RequestException(given_up, args, kwargs) from None
            raise


def praw_requestor(config: RedditConfig, log: RetryLog, pause: Callable[[float], None] = time.sleep) -> dict:
    """praw.Reddit's requestor_class and requestor_kwargs for a client that retries each request."""
    return {
        "requestor_class": RetryingRequestor,
        "requestor_kwargs": {"timeout": config.timeout_s, "retry": request_retry(config, log, pause)},
    }
