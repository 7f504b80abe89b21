"""The real PRAW client against a local server that speaks Reddit's API (no mocks)."""

import pandas as pd
import praw
import prawcore
import pytest
import requests
from conftest import FAST_REDDIT, TEST_SALT, serve, served_comments, served_stories, values

from stages.common.config import RedditConfig
from stages.common.errors import StageError
from stages.sources.fake_reddit import FakeReddit
from stages.sources.reddit import ListingScrape, ScrapedSubmission, is_transient
from stages.sources.reddit_http import RequestGaveUp, RetryLog, praw_requestor


def client(server: FakeReddit, config: RedditConfig, log: RetryLog, sleep, secret: str | None = None) -> praw.Reddit:
    """PRAW pointed at the server through its own settings: oauth_url and reddit_url."""
    client_id, client_secret = server.credentials
    return praw.Reddit(
        client_id=client_id,
        client_secret=secret or client_secret,
        user_agent="ahf tests by u/nobody",
        oauth_url=server.url,
        reddit_url=server.url,
        check_for_updates=False,
        **praw_requestor(config, log, sleep),
    )


def scrape(
    server: FakeReddit,
    done: frozenset = frozenset(),
    sleeps: list | None = None,
    secret: str | None = None,
    log: RetryLog | None = None,
    **reddit,
) -> tuple[ListingScrape, list[ScrapedSubmission]]:
    """Scrape through the server; request retries go to `log`, every wait (requests' and fetches') to `sleeps`."""
    config = RedditConfig(**(FAST_REDDIT | reddit))
    sleep = (sleeps if sleeps is not None else []).append
    reddit_client = client(server, config, log if log is not None else RetryLog(), sleep, secret)
    walk = ListingScrape(reddit_client, "WritingPrompts", config, TEST_SALT, set(done), sleep)
    return walk, list(walk)


def backoff_bounds(backoff_s: float, retry: int) -> tuple[float, float]:
    """The wait before the `retry`-th retry of a request: doubling from backoff_s, plus up to half of jitter."""
    base = backoff_s * 2 ** (retry - 1)
    return base, 1.5 * base


def stories_frame(scraped: list[ScrapedSubmission], replies: bool = False) -> pd.DataFrame:
    rows = [row for one in scraped for row in one.stories + (one.replies if replies else [])]
    return pd.DataFrame(rows).set_index("id").sort_index()


def test_a_full_scrape_equals_what_was_served_across_pages_and_more_objects(threaded_frames):
    log = RetryLog()
    with serve(threaded_frames) as server:
        walk, scraped = scrape(server, log=log)
    listing_pages = server.requests.count("GET /r/WritingPrompts/top")
    assert listing_pages == 2  # 130 submissions, 100 a page
    assert server.requests.count("POST /api/morechildren/") > 130  # every prompt hid stories
    assert sorted(s.submission["id"] for s in scraped) == sorted(server.content.submissions["id"])
    expected = served_comments(server).set_index("id").sort_index()
    got = stories_frame(scraped, replies=True)
    assert list(got.index) == list(expected.index)
    for column in (
        "submission_id",
        "parent_id",
        "body",
        "score",
        "created_utc",
        "author_hash",
        "stickied",
        "distinguished",
    ):
        assert values(got[column]) == values(expected[column]), column
    # threaded() put, under each of three stories, one reply of each kind
    assert {reason: walk.skipped[reason] for reason in ("reply_bot", "reply_deep", "reply_by_author")} == {
        "reply_bot": 3,
        "reply_deep": 3,
        "reply_by_author": 3,
    }
    assert walk.skipped["reply_under_sticky"] == 3
    replies = got[got["parent_id"].str.startswith("t1_")]
    assert len(replies) == (~server.content.comments["parent_id"].str.startswith("t3_")).sum() - 12
    assert walk.skipped["unexpanded"] == 0 and walk.refetches == 0 and log.retries == 0


def test_submissions_carry_the_contract_fields(simulated_frames):
    with serve(simulated_frames) as server:
        _walk, scraped = scrape(server, limit=5)
    served = server.content.submissions.set_index("id")
    for one in scraped:
        row = one.submission
        assert row["tag"] == "WP" and row["title"] == served.loc[row["id"], "title"]
        assert row["score"] == served.loc[row["id"], "score"] and row["subreddit"] == "WritingPrompts"
        assert len(row["author_hash"]) == 16 and not row["author_hash"].startswith("u_")


def test_limit_and_listing_choose_the_submissions(simulated_frames):
    with serve(simulated_frames) as server:
        _, newest = scrape(server, listing="new", limit=7)
        _, hot = scrape(server, listing="hot", limit=7)
    by_age = server.content.submissions.sort_values("created_utc", ascending=False)
    assert [s.submission["id"] for s in newest] == list(by_age["id"][:7])
    assert len(hot) == 7


def test_without_more_expansion_hidden_stories_are_counted_not_fetched(simulated_frames):
    with serve(simulated_frames) as server:
        walk, scraped = scrape(server, limit=10, replace_more_limit=0)
    assert "POST /api/morechildren/" not in server.requests
    assert all(len(s.stories) <= 3 for s in scraped)
    assert walk.skipped["unexpanded"] > 0


def test_each_request_is_retried_on_its_own_with_doubling_waits(simulated_frames):
    with serve(simulated_frames) as server:
        scrape(server, limit=20)
    # The number of a `more` expansion followed by another kind of request, so that its retry shows.
    more = next(
        number
        for number, (request, following) in enumerate(zip(server.requests, server.requests[1:], strict=False), 1)
        if request == "POST /api/morechildren/" != following
    )
    sleeps, log = [], RetryLog()
    with serve(simulated_frames) as server:
        # Request 1 is the token, 2 the listing; the listing's two retries come before the expansion.
        server.faults.status_at = {2: 429, 3: 503, more + 2: 500}
        server.faults.retry_after_s = 0
        walk, scraped = scrape(server, sleeps=sleeps, log=log, limit=20)
    assert len(scraped) == 20 and walk.refetches == 0
    assert server.requests[1] == server.requests[2] == server.requests[3] == "GET /r/WritingPrompts/top"
    assert server.requests[more + 1] == server.requests[more + 2]  # the failed request again, not its thread
    assert log.retries == 3 and log.causes == {"429": 1, "5xx": 2, "timeout": 0, "connection": 0}
    for wait_s, retry in zip(sleeps, (1, 2, 1), strict=True):
        low, high = backoff_bounds(FAST_REDDIT["backoff_s"], retry)
        assert low <= wait_s <= high
    assert log.wait_s == pytest.approx(sum(sleeps))


def test_a_429_waits_at_least_what_its_retry_after_asks(simulated_frames):
    sleeps, log = [], RetryLog()
    with serve(simulated_frames) as server:
        server.faults.status_at = {3: 429, 6: 503}
        server.faults.retry_after_s = 2
        _, scraped = scrape(server, sleeps=sleeps, log=log, limit=5)
    assert len(scraped) == 5
    after_429, after_503 = sleeps
    assert after_429 >= 2.0  # the header, though the backoff is 0.01 s
    assert after_503 <= backoff_bounds(FAST_REDDIT["backoff_s"], 1)[1]  # a 503 here says no Retry-After


def test_server_errors_and_timeouts_then_success_lose_nothing(simulated_frames):
    log = RetryLog()
    with serve(simulated_frames) as server:
        server.faults.status_at = {4: 500}
        server.faults.slow_at, server.faults.slow_s = {12}, 1.5
        walk, scraped = scrape(server, log=log, limit=8, timeout_s=0.5)
    served = served_stories(server)
    scraped_ids = [s.submission["id"] for s in scraped]
    assert len(scraped_ids) == 8
    assert sorted(stories_frame(scraped).index) == sorted(served[served["submission_id"].isin(scraped_ids)]["id"])
    assert log.causes == {"429": 0, "5xx": 1, "timeout": 1, "connection": 0} and walk.refetches == 0


def test_a_body_cut_off_beyond_prawcores_own_tries_fetches_the_thread_again(simulated_frames):
    log = RetryLog()
    with serve(simulated_frames) as server:
        server.faults.cut_at = {3, 4, 5}  # the first thread's page, sent three times by prawcore
        walk, scraped = scrape(server, log=log, limit=3)
    assert server.requests[2] == server.requests[3] == server.requests[4] == server.requests[5]
    assert walk.refetches == 1 and log.retries == 0  # urllib3 never saw it: requests reads bodies later
    first = scraped[0].submission["id"]
    assert len(scraped[0].stories) == (served_stories(server)["submission_id"] == first).sum() and len(scraped) == 3


def test_it_gives_up_after_max_tries_of_one_request_naming_it(simulated_frames):
    sleeps = []
    with serve(simulated_frames) as server:
        server.faults.status_at = dict.fromkeys(range(3, 100), 429)
        server.faults.retry_after_s = 0
        with pytest.raises(
            StageError,
            match=r"fetching the comments of r/WritingPrompts/top submission (\w+): "
            r"gave up on GET /comments/\1/ after 3 tries: too many 429 error responses",
        ):
            scrape(server, sleeps=sleeps)
    assert len(server.requests) == 2 + 3  # max_tries requests, then no more: not prawcore's, not the thread's
    assert len(sleeps) == 2


def test_a_server_that_hangs_up_is_given_up_on_after_max_tries_requests(simulated_frames):
    log = RetryLog()
    with serve(simulated_frames) as server:
        server.faults.silent_from = 3
        with pytest.raises(StageError, match=r"gave up on GET /comments/\w+/ after 3 tries: .*Connection aborted"):
            scrape(server, log=log)
    assert len(server.requests) == 2 + 3  # neither prawcore nor the fetch sends it again
    assert log.causes["connection"] == 2


def test_wrong_credentials_are_one_clear_error(simulated_frames):
    with serve(simulated_frames) as server, pytest.raises(StageError, match="refused the credentials"):
        scrape(server, secret="not-the-secret")


def test_an_unknown_subreddit_is_one_clear_error(simulated_frames):
    with FakeReddit("SomethingElse", *simulated_frames) as server, pytest.raises(StageError, match="does not know it"):
        scrape(server)


def test_an_empty_subreddit_yields_nothing(simulated_frames):
    submissions, comments = (frame.iloc[0:0] for frame in simulated_frames)
    with serve((submissions, comments)) as server:
        _walk, scraped = scrape(server)
    assert scraped == []


def test_done_and_stickied_submissions_are_skipped_without_fetching(simulated_frames):
    submissions, comments = simulated_frames
    announcement = submissions["id"].iloc[0]
    with serve((submissions.assign(stickied=submissions["id"] == announcement), comments)) as server:
        done = frozenset(server.content.ordered_ids("top", "all")[:5])
        walk, scraped = scrape(server, done=done, limit=20)
    fetched = {request.split("/")[2] for request in server.requests if request.startswith("GET /comments/")}
    assert not fetched & (done | {announcement})
    assert walk.skipped["resumed"] == 5
    assert walk.skipped["stickied_submission"] == (announcement in server.content.ordered_ids("top", "all")[:20])
    assert len(scraped) == 20 - walk.skipped["resumed"] - walk.skipped["stickied_submission"]


def test_only_failures_that_no_request_retry_covers_are_fetched_again():
    assert is_transient(prawcore.RequestException(requests.exceptions.ChunkedEncodingError(), (), {}))
    assert is_transient(prawcore.RequestException(requests.ReadTimeout(), (), {}))
    assert not is_transient(prawcore.RequestException(RequestGaveUp("gave up on GET /x after 5 tries"), (), {}))
    assert not is_transient(prawcore.RequestException(requests.exceptions.InvalidURL(), (), {}))
    response = requests.Response()
    response.status_code = 503  # retried below, so one that reaches a fetch is final
    assert not is_transient(prawcore.ResponseException(response))
    assert not is_transient(KeyError("a bug"))
