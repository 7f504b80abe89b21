"""The real PRAW client against a local server that speaks Reddit's API (no mocks)."""

import pandas as pd
import praw
import prawcore
import pytest
import requests

from conftest import FAST_REDDIT, TEST_SALT, serve, served_stories, values
from stages.common.config import RedditConfig
from stages.common.errors import StageError
from stages.sources.fake_reddit import FakeReddit
from stages.sources.reddit import ListingScrape, ScrapedSubmission, TimeoutRequestor, is_transient


def client(server: FakeReddit, secret: str | None = None, timeout_s: float = 2.0) -> praw.Reddit:
    """PRAW pointed at the server through its own settings: oauth_url and reddit_url."""
    client_id, client_secret = server.credentials
    return praw.Reddit(
        client_id=client_id, client_secret=secret or client_secret, user_agent="ahf tests by u/nobody",
        oauth_url=server.url, reddit_url=server.url, check_for_updates=False,
        requestor_class=TimeoutRequestor, requestor_kwargs={"timeout": timeout_s},
    )


def scrape(
    server: FakeReddit, done: frozenset = frozenset(), sleeps: list | None = None, secret: str | None = None, **reddit
) -> tuple[ListingScrape, list[ScrapedSubmission]]:
    config = RedditConfig(**(FAST_REDDIT | reddit))
    sleep = (sleeps if sleeps is not None else []).append
    walk = ListingScrape(client(server, secret, config.timeout_s), "WritingPrompts", config, TEST_SALT, set(done), sleep)
    return walk, list(walk)


def stories_frame(scraped: list[ScrapedSubmission]) -> pd.DataFrame:
    return pd.DataFrame([story for one in scraped for story in one.stories]).set_index("id").sort_index()


def test_a_full_scrape_equals_what_was_served_across_pages_and_more_objects(simulated_frames):
    with serve(simulated_frames) as server:
        walk, scraped = scrape(server)
    listing_pages = server.requests.count("GET /r/WritingPrompts/top")
    assert listing_pages == 2  # 130 submissions, 100 a page
    assert server.requests.count("POST /api/morechildren/") > 130  # every prompt hid stories
    assert sorted(s.submission["id"] for s in scraped) == sorted(server.content.submissions["id"])
    expected = served_stories(server).set_index("id").sort_index()
    got = stories_frame(scraped)
    assert list(got.index) == list(expected.index)
    for column in ("submission_id", "body", "score", "created_utc", "author_hash", "stickied", "distinguished"):
        assert values(got[column]) == values(expected[column]), column
    assert walk.skipped["reply"] == (~server.content.comments["parent_id"].str.startswith("t3_")).sum()
    assert walk.skipped["unexpanded"] == 0 and walk.retries == 0


def test_submissions_carry_the_contract_fields(simulated_frames):
    with serve(simulated_frames) as server:
        walk, scraped = scrape(server, limit=5)
    served = server.content.submissions.set_index("id")
    for scraped in scraped:
        row = scraped.submission
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


def test_rate_limits_are_retried_with_backoff(simulated_frames):
    sleeps = []
    with serve(simulated_frames) as server:
        server.faults.status_at = {2: 429, 3: 429, 6: 429}  # request 1 is the token
        walk, scraped = scrape(server, sleeps=sleeps, limit=20)
    assert len(scraped) == 20
    assert walk.retries == 3
    assert sleeps == [0.01, 0.02, 0.01]


def test_server_errors_and_timeouts_then_success_lose_nothing(simulated_frames):
    with serve(simulated_frames) as server:
        server.faults.status_at = {4: 500}
        server.faults.slow_at, server.faults.slow_s = {12}, 1.5
        walk, scraped = scrape(server, limit=8, timeout_s=0.5)
    served = served_stories(server)
    scraped_ids = [s.submission["id"] for s in scraped]
    assert len(scraped_ids) == 8
    assert sorted(stories_frame(scraped).index) == sorted(served[served["submission_id"].isin(scraped_ids)]["id"])


def test_it_gives_up_after_max_tries_naming_what_failed(simulated_frames):
    sleeps = []
    with serve(simulated_frames) as server:
        server.faults.status_at = dict.fromkeys(range(3, 100), 429)
        with pytest.raises(StageError, match=r"gave up fetching the comments of r/WritingPrompts/top submission \w+ after 3 tries: received 429"):
            scrape(server, sleeps=sleeps)
    assert sleeps == [0.01, 0.02]


def test_wrong_credentials_are_one_clear_error(simulated_frames):
    with serve(simulated_frames) as server, pytest.raises(StageError, match="refused the credentials"):
        scrape(server, secret="not-the-secret")


def test_an_unknown_subreddit_is_one_clear_error(simulated_frames):
    with FakeReddit("SomethingElse", *simulated_frames) as server, pytest.raises(StageError, match="does not know it"):
        scrape(server)


def test_an_empty_subreddit_yields_nothing(simulated_frames):
    submissions, comments = (frame.iloc[0:0] for frame in simulated_frames)
    with serve((submissions, comments)) as server:
        walk, scraped = scrape(server)
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


def test_only_rate_limits_server_errors_and_network_failures_are_transient(simulated_frames):
    response = requests.Response()
    for status, transient in ((429, True), (503, True), (404, False), (401, False)):
        response.status_code = status
        assert is_transient(prawcore.ResponseException(response)) is transient
    assert is_transient(prawcore.RequestException(requests.ReadTimeout(), (), {}))
    assert not is_transient(prawcore.RequestException(requests.exceptions.InvalidURL(), (), {}))
    assert not is_transient(KeyError("a bug"))
