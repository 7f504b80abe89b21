"""Scraping a subreddit through PRAW: the client, then a listing walked into raw rows.

Credentials come only from where PRAW users keep them: the environment variables
praw_client_id, praw_client_secret and praw_user_agent, or a praw.ini site
(data.reddit.praw_site). They go to PRAW and nowhere else: not into params, rows,
metrics or messages.

Each HTTP request is retried on its own, below PRAW (sources/reddit_http.py). A fetch
(a submission's whole thread, or the listing's next page) is tried again as a whole
only for what no request-level retry covers: a response cut off mid-body three times.
A request that failed max_tries times ends the scrape, keeping what was checkpointed:
rerunning resumes it.
"""

import configparser
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import pandas as pd
import praw
import praw.exceptions
import prawcore
import requests
from tqdm import tqdm

from stages.common.config import RedditConfig
from stages.common.contracts import COMMENT_COLUMNS, raw_frame
from stages.common.errors import StageError
from stages.common.progress import progress_bar
from stages.common.retry import RetryPolicy, call_with_retries
from stages.sources.reddit_http import RequestGaveUp, RetryLog, praw_requestor
from stages.sources.reddit_records import COMMENT_FIELDS, SUBMISSION_FIELDS, comment_record, submission_record
from stages.sources.reply_threads import SKIP_REASONS as REPLY_SKIP_REASONS
from stages.sources.reply_threads import is_bot, reply_skip_reason

Result = TypeVar("Result")
CREDENTIAL_VARIABLES = ("praw_client_id", "praw_client_secret", "praw_user_agent")
SKIP_REASONS = (*REPLY_SKIP_REASONS, "unexpanded", "resumed", "listed_twice", "stickied_submission")
# What reaches a fetch from a response cut off after its headers, once prawcore's own tries are spent.
TRANSIENT_CONNECTION_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


def reddit_client(config: RedditConfig, retry_log: RetryLog) -> praw.Reddit:
    """A read-only PRAW client from the environment or praw.ini; a StageError says what is missing."""
    praw_site = config.praw_site
    where = (
        f"praw.ini site [{praw_site}] (data.reddit.praw_site)"
        if praw_site
        else "a praw.ini site named in data.reddit.praw_site"
    )
    try:
        reddit = praw.Reddit(
            praw_site,
            check_for_updates=False,  # no calls to PyPI from inside a pipeline stage
            **praw_requestor(config, retry_log),
        )
    except configparser.NoSectionError as error:
        raise StageError(
            f"data.reddit.praw_site: no [{praw_site}] site in any praw.ini (./praw.ini, ~/.config/praw.ini)"
        ) from error
    except praw.exceptions.MissingRequiredAttributeException as error:
        raise StageError(
            f"Reddit credentials missing: set the environment variables {', '.join(CREDENTIAL_VARIABLES)}, "
            f"or give client_id, client_secret and user_agent in {where}"
        ) from error
    except prawcore.InvalidInvocation as error:
        raise StageError(f"PRAW refused its configuration: {error} (see praw_user_agent)") from error
    reddit.read_only = True
    return reddit


def is_transient(error: Exception) -> bool:
    return isinstance(error, prawcore.RequestException) and isinstance(
        error.original_exception, TRANSIENT_CONNECTION_ERRORS
    )


def explain(error: Exception) -> str:
    """A Reddit failure that retrying cannot fix, in words that say what to do."""
    if isinstance(error, prawcore.RequestException) and isinstance(error.original_exception, RequestGaveUp):
        return str(error.original_exception)
    status = error.response.status_code if isinstance(error, prawcore.ResponseException) else None
    if status == 401 or isinstance(error, prawcore.OAuthException):
        return f"Reddit refused the credentials ({error}): check the client id and secret of your script app"
    if status == 403:
        return f"Reddit forbids it ({error}): a private or banned subreddit?"
    if isinstance(error, (prawcore.NotFound, prawcore.Redirect)):
        return f"Reddit does not know it ({error}): check data.subreddit"
    return str(error)


def praw_fields(thing: object, names: tuple[str, ...]) -> dict:
    """A PRAW object's fields as Reddit's JSON had them (PRAW wraps author and subreddit)."""
    fields = {name: getattr(thing, name) for name in names}
    fields["author"] = getattr(fields["author"], "name", None)  # PRAW makes "[deleted]" None
    if "subreddit" in fields:
        fields["subreddit"] = str(fields["subreddit"])
    return fields


def skip_reason(listed: praw.models.Submission, seen: set[str], done: set[str]) -> str | None:
    if listed.id in seen:
        return "listed_twice"  # a listing shifts while it is paged through
    if listed.id in done:
        return "resumed"  # scraped before this pass was interrupted
    if listed.stickied:
        return "stickied_submission"  # the moderators' announcements, not prompts
    return None


@dataclass(frozen=True)
class ScrapedSubmission:
    submission: dict
    stories: list[dict]  # its top-level comments, rows of the raw contract
    replies: list[dict]  # the direct replies to its stories (sources/reply_threads.py), rows alike
    skipped: Counter  # the comments below top level not kept, by reason
    unexpanded: int  # comments left behind `more` objects past replace_more_limit


def fetch_submission(
    reddit: praw.Reddit, submission_id: str, replace_more_limit: int | None, salt: str, scraped_utc: int
) -> ScrapedSubmission:
    # A fresh object per try: a failed replace_more may leave a half-expanded forest.
    submission = reddit.submission(submission_id)
    left_behind = submission.comments.replace_more(limit=replace_more_limit)
    fields = [praw_fields(c, COMMENT_FIELDS) for c in submission.comments.list()]
    stories = [comment_record(f, salt, scraped_utc) for f in fields if f["parent_id"].startswith("t3_")]
    below = [f for f in fields if not f["parent_id"].startswith("t3_")]
    candidates = [comment_record(f, salt, scraped_utc) for f in below if not is_bot(f["author"])]
    reasons = reply_skip_reason(raw_frame(candidates, COMMENT_COLUMNS), raw_frame(stories, COMMENT_COLUMNS))
    skipped = Counter(reasons.dropna().tolist()) + Counter(reply_bot=len(below) - len(candidates))
    return ScrapedSubmission(
        submission=submission_record(praw_fields(submission, SUBMISSION_FIELDS), salt, scraped_utc),
        stories=stories,
        replies=[reply for reply, reason in zip(candidates, reasons, strict=True) if pd.isna(reason)],
        skipped=skipped,
        unexpanded=sum(more.count for more in left_behind),
    )


class ListingScrape:
    """Walk r/<subreddit>'s listing and fetch each submission's comments, with retries.

    Iterating yields one ScrapedSubmission per submission; `skipped` counts what was
    passed over by reason, `refetches` the fetches tried again as a whole.
    """

    def __init__(
        self,
        reddit: praw.Reddit,
        subreddit: str,
        config: RedditConfig,
        salt: str,
        done: set[str],
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.reddit, self.subreddit, self.config, self.salt, self.done = reddit, subreddit, config, salt, done
        self.policy = RetryPolicy(config.max_tries, config.backoff_s, is_transient, sleep, config.max_backoff_s)
        self.skipped = Counter(dict.fromkeys(SKIP_REASONS, 0))
        self.refetches = 0

    def listing(self) -> Iterator:
        listings = self.reddit.subreddit(self.subreddit)
        if self.config.listing == "top":
            return listings.top(time_filter=self.config.time_filter, limit=self.config.limit)
        return getattr(listings, self.config.listing)(limit=self.config.limit)

    def with_retries(self, call: Callable[[], Result], what: str) -> Result:
        def on_retry(error: Exception, wait_s: float) -> None:
            self.refetches += 1
            tqdm.write(f"ahf scrape: {what}: {error}; fetching it again in {wait_s:g} s", file=sys.stderr)

        try:
            return call_with_retries(call, what, self.policy, on_retry)
        except (prawcore.PrawcoreException, praw.exceptions.PRAWException) as error:
            raise StageError(f"{what}: {explain(error)}") from error

    def __iter__(self) -> Iterator[ScrapedSubmission]:
        listing = self.listing()
        seen: set[str] = set()
        name = f"r/{self.subreddit}/{self.config.listing}"
        with progress_bar(total=self.config.limit, desc=f"scrape {name}", unit="submission") as progress:
            while True:
                listed = self.with_retries(
                    lambda: next(listing, None), f"listing {name} (past {len(seen)} submissions)"
                )
                if listed is None:
                    return
                progress.update()
                reason = skip_reason(listed, seen, self.done)
                seen.add(listed.id)
                if reason:
                    self.skipped[reason] += 1
                    continue
                scraped = self.with_retries(
                    lambda listed=listed: fetch_submission(
                        self.reddit, listed.id, self.config.replace_more_limit, self.salt, int(time.time())
                    ),
                    f"fetching the comments of {name} submission {listed.id}",
                )
                self.skipped.update(scraped.skipped)
                self.skipped["unexpanded"] += scraped.unexpanded
                yield scraped
