import json
import os
import re
import signal
import subprocess
import sys

import pandas as pd
import pytest
from conftest import run_ahf, write_params

from stages.sources.fake_reddit import LISTING_CAP, PAGE_SIZE, SubredditContent


def synthetic(n_submissions: int) -> SubredditContent:
    submissions = pd.DataFrame(
        {
            "id": [f"s{i:04d}" for i in range(n_submissions)],
            "subreddit": "WritingPrompts",
            "title": "[WP] t",
            "selftext": "",
            "score": list(range(n_submissions)),
            "num_comments": 0,
            "created_utc": [1_600_000_000 + 3600 * i for i in range(n_submissions)],
            "author_hash": None,
            "permalink": "/r/WritingPrompts/",
            "scraped_utc": 0,
        }
    )
    comments = pd.DataFrame(
        columns=[
            "id",
            "submission_id",
            "parent_id",
            "body",
            "score",
            "created_utc",
            "author_hash",
            "stickied",
            "distinguished",
            "scraped_utc",
        ]
    )
    return SubredditContent("WritingPrompts", submissions, comments, stories_shown=3, more_batch=2)


def walk_pages(content: SubredditContent, sort: str, time_filter: str = "all") -> list[str]:
    ids, after = [], None
    while True:
        page = content.listing_page(sort, time_filter, limit=1000, after=after)["data"]
        ids += [child["data"]["id"] for child in page["children"]]
        assert len(page["children"]) <= PAGE_SIZE
        if not (after := page["after"]):
            return ids


def test_listings_page_by_100_and_stop_near_1000_like_reddits():
    content = synthetic(1050)
    top = walk_pages(content, "top")
    assert len(top) == LISTING_CAP == len(set(top))
    assert top[0] == "s1049"  # the highest score first
    assert walk_pages(content, "new")[0] == "s1049"


def test_top_with_a_time_filter_counts_back_from_the_newest_prompt():
    week = walk_pages(synthetic(500), "top", "week")
    assert len(week) == 7 * 24 and "s0499" in week and "s0300" not in week


@pytest.mark.slow
def test_the_cli_server_serves_the_simulated_subreddit_to_ahf_scrape(tmp_path):
    write_params(tmp_path, simulate={"n_prompts": 25, "n_writers": 10})
    options = ["--port", "0", "--fault-rate", "0.2", "--retry-after", "0", "--more-batch", "2"]
    server = subprocess.Popen(
        [sys.executable, "-m", "stages", "fake-reddit", *options],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        printed = []
        while (line := server.stdout.readline()) and not line.startswith("user_agent"):
            printed.append(line)
        site = "".join(line for line in printed[1:] if line.strip()) + line
        assert site.startswith("[fake-reddit]\noauth_url = http://127.0.0.1:")
        (tmp_path / "praw.ini").write_text(site)  # as docs/real-reddit.md says: a praw.ini site in the project
        reddit = {"praw_site": "fake-reddit", "replace_more_limit": None, "backoff_s": 0.001, "max_tries": 8}
        write_params(tmp_path, data={"source": "reddit", "reddit": reddit})
        env = {key: value for key, value in os.environ.items() if not key.lower().startswith("praw_")}
        result = run_ahf(tmp_path, "scrape", env=env | {"PRAW_ALLOW_ENDPOINT_OVERRIDE": "1", "AHF_AUTHOR_SALT": "s"})
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("scrape (reddit r/WritingPrompts top): 25 submissions")
    last_words = server.stdout.read().strip().splitlines()[-1]
    requests, faults = map(
        int, re.fullmatch(r"stopped after (\d+) requests, (\d+) faults injected \(.*\)", last_words).groups()
    )
    assert faults == json.loads((tmp_path / "reports/scrape.json").read_text())["scrape/retries"]
    assert 0.1 * requests < faults < 0.3 * requests


def test_a_request_that_asks_to_close_is_answered_with_connection_close(simulated_frames):
    """prawcore's token request says `Connection: close`; a reply that does not say it back
    lets the client pool the connection and race the server's close on its next request."""
    import http.client
    from urllib.parse import urlsplit

    from conftest import serve

    with serve(simulated_frames) as server:
        address = urlsplit(server.url)
        for asked, expected in (({"Connection": "close"}, "close"), ({}, None)):
            connection = http.client.HTTPConnection(address.hostname, address.port, timeout=5)
            connection.request("POST", "/api/v1/access_token", body="grant_type=client_credentials", headers=asked)
            response = connection.getresponse()
            response.read()
            assert response.getheader("Connection") == expected
            assert response.will_close == (expected == "close")
            connection.close()
