import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import zstandard
from conftest import (
    BIG_THREAD_MORE_BATCH,
    BIG_THREADS,
    TEST_SALT,
    assert_scraped_all_served,
    praw_env,
    reddit_params,
    run_ahf,
    serve,
    served_stories,
    write_params,
)

from stages.simulator.prompt_blocks import PROMPTS_PER_BLOCK


@pytest.mark.slow
def test_simulated_scrape_is_byte_identical_across_runs(small_project):
    assert run_ahf(small_project, "scrape").returncode == 0
    first = {
        name: (small_project / "data/raw" / name).read_bytes() for name in ("submissions.parquet", "comments.parquet")
    }
    assert run_ahf(small_project, "scrape").returncode == 0
    second = {name: (small_project / "data/raw" / name).read_bytes() for name in first}
    assert first == second


@pytest.mark.slow
def test_scrape_writes_the_contract_and_its_metrics(small_project):
    result = run_ahf(small_project, "scrape")
    assert result.returncode == 0, result.stderr
    assert "80 submissions" in result.stdout
    submissions = pd.read_parquet(small_project / "data/raw/submissions.parquet")
    assert len(submissions) == 80
    assert (small_project / "reports/scrape.json").read_text().count("scrape/") == 2


@pytest.mark.slow
def test_an_unknown_source_is_one_line_and_writes_nothing(tmp_path):
    write_params(tmp_path, data={"source": "twitter"})
    result = run_ahf(tmp_path, "scrape")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "data.source" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()


@pytest.mark.slow
def test_a_failed_scrape_keeps_the_previous_output(small_project):
    assert run_ahf(small_project, "scrape").returncode == 0
    before = (small_project / "data/raw/comments.parquet").read_bytes()
    write_params(small_project, simulate={"n_prompts": "many"})
    result = run_ahf(small_project, "scrape")
    assert result.returncode == 2 and "simulate.n_prompts" in result.stderr
    assert (small_project / "data/raw/comments.parquet").read_bytes() == before


def processes_in_group(group: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and os.getpgid(int(entry)) == group:
                found.append(int(entry))
        except ProcessLookupError:
            pass
    return found


@pytest.mark.slow
def test_ctrl_c_during_a_simulation_in_blocks_ends_every_worker_and_writes_nothing(tmp_path):
    write_params(tmp_path, simulate={"n_prompts": 3 * PROMPTS_PER_BLOCK})  # three blocks, drawn by workers
    scraping = subprocess.Popen(
        [sys.executable, "-m", "stages", "scrape"],
        cwd=tmp_path,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while len(processes_in_group(scraping.pid)) < 3 and time.monotonic() < deadline:  # the stage, its workers
        time.sleep(0.05)
    os.killpg(scraping.pid, signal.SIGINT)  # as a terminal's Ctrl-C: to the whole foreground group
    _, stderr = scraping.communicate(timeout=30)
    assert scraping.returncode != 0 and "Traceback" not in stderr
    deadline = time.monotonic() + 10
    while processes_in_group(scraping.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not processes_in_group(scraping.pid)
    assert not (tmp_path / "data").exists()


# --- data.source: reddit, through the real PRAW and the local Reddit-speaking server ---

CANARY_SECRET = "canary-secret-7f3e2d91"


def scrape_state(folder: Path) -> dict:
    """data/raw's state, or {} while there is none (or while a running scrape swaps it)."""
    try:
        return json.loads((folder / "data/raw/scrape_state.json").read_text())
    except FileNotFoundError:
        return {}


def comment_fetches(server, start: int = 0) -> set[str]:
    return {line.split("/")[2] for line in server.requests[start:] if line.startswith("GET /comments/")}


def files_text(*folders: Path) -> bytes:
    return b"".join(
        path.read_bytes() for folder in folders if folder.exists() for path in folder.rglob("*") if path.is_file()
    )


@pytest.mark.slow
def test_a_reddit_scrape_stores_what_was_served_and_never_the_secret(tmp_path, threaded_frames):
    reddit_params(tmp_path)
    with serve(threaded_frames, client_secret=CANARY_SECRET) as server:
        result = run_ahf(tmp_path, "scrape", env=praw_env(tmp_path, server))
    assert result.returncode == 0, result.stderr
    assert_scraped_all_served(tmp_path, server)
    assert result.stdout.startswith("scrape (reddit r/WritingPrompts top): 130 submissions, ")
    metrics = json.loads((tmp_path / "reports/scrape.json").read_text())
    assert (
        metrics["scrape/submissions"]
        == metrics["scrape/new_submissions"]
        == metrics["scrape/fetched_submissions"]
        == 130
    )
    assert metrics["scrape/stories"] == len(served_stories(server))
    assert metrics["scrape/stories"] + metrics["scrape/replies"] == metrics["scrape/comments"]
    assert metrics["scrape/replies"] > 0 and metrics["scrape/retries"] == 0
    for reason in ("bot", "deep", "under_sticky", "by_author"):
        assert metrics[f"scrape/skipped_reply_{reason}"] == 3, reason  # threaded()'s
    assert scrape_state(tmp_path) == {"holds": "reddit", "subreddit": "WritingPrompts", "pass": None}
    everything = files_text(tmp_path / "data", tmp_path / "reports") + (tmp_path / "params.yaml").read_bytes()
    assert CANARY_SECRET.encode() not in everything + (result.stdout + result.stderr).encode()
    assert not (tmp_path / ".ahf").exists()  # the salt came from AHF_AUTHOR_SALT
    assert run_ahf(tmp_path, "rank").returncode == 0


@pytest.mark.slow
def test_missing_credentials_are_one_line_naming_the_variables(tmp_path, simulated_frames):
    reddit_params(tmp_path, site=None)
    with serve(simulated_frames) as server:
        env = {k: v for k, v in praw_env(tmp_path, server).items() if not k.startswith("praw_")}
        result = run_ahf(tmp_path, "scrape", env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert (
        "praw_client_id, praw_client_secret, praw_user_agent" in result.stderr
        and "data.reddit.praw_site" in result.stderr
    )
    assert not (tmp_path / "data").exists() and server.requests == []


@pytest.mark.slow
def test_a_server_that_dies_mid_scrape_loses_nothing_on_the_rerun(tmp_path, simulated_frames):
    reddit_params(tmp_path, checkpoint_every=5, max_tries=1)
    with serve(simulated_frames) as server:
        env = praw_env(tmp_path, server)
        server.faults.silent_from = 80
        dying = run_ahf(tmp_path, "scrape", env=env)
        assert dying.returncode == 2 and "Traceback" not in dying.stderr
        assert "gave up" in dying.stderr and "rerun to resume" in dying.stderr
        done = scrape_state(tmp_path)["pass"]["done"]
        saved = pd.read_parquet(tmp_path / "data/raw/submissions.parquet")
        assert 5 <= len(done) < 130 and sorted(saved["id"]) == sorted(done)

        server.faults.silent_from = None
        second_start = len(server.requests)
        rerun = run_ahf(tmp_path, "scrape", env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert_scraped_all_served(tmp_path, server)
    assert not comment_fetches(server, second_start) & set(done)
    assert f"{len(done)} resumed" in rerun.stdout


@pytest.mark.slow
def test_a_scrape_killed_with_sigkill_resumes_without_loss_or_duplicates(tmp_path, simulated_frames):
    reddit_params(tmp_path, checkpoint_every=3)
    with serve(simulated_frames) as server:
        env = praw_env(tmp_path, server)
        server.faults.delay_s = 0.01
        scraping = subprocess.Popen(
            [sys.executable, "-m", "stages", "scrape"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while len((scrape_state(tmp_path).get("pass") or {}).get("done", [])) < 9 and time.monotonic() < deadline:
            time.sleep(0.05)
        scraping.send_signal(signal.SIGKILL)
        scraping.wait()
        assert scraping.returncode == -signal.SIGKILL

        server.faults.delay_s = 0.0
        second_start = len(server.requests)
        rerun = run_ahf(tmp_path, "scrape", env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert_scraped_all_served(tmp_path, server)
    fetched_by_rerun = comment_fetches(server, second_start)
    assert 0 < len(fetched_by_rerun) <= 130 - 9  # killed mid-scrape, and the rerun resumed
    assert int(rerun.stdout.split(" resumed")[0].rsplit(" ", 1)[-1]) >= 9
    assert not list((tmp_path / "data").glob(".raw*"))


# 15% of requests answered 429, 500 or 503; a request fails six times in a row once in 88,000.
FLAKY = {"max_tries": 6, "backoff_s": 0.001}


@pytest.mark.slow
def test_big_threads_under_15_percent_faults_are_scraped_whole_with_every_retry_counted(tmp_path, big_thread_frames):
    reddit_params(tmp_path, **FLAKY)
    with serve(big_thread_frames, more_batch=BIG_THREAD_MORE_BATCH) as server:
        server.faults.rate, server.faults.retry_after_s = 0.15, 0
        result = run_ahf(tmp_path, "scrape", env=praw_env(tmp_path, server))
    assert result.returncode == 0, result.stderr
    stories_per_thread = served_stories(server)["submission_id"].value_counts()
    injected = server.injected
    answered_morechildren = server.requests.count("POST /api/morechildren/") - injected.total()
    # Threads of a sticky and 2 + Poisson(2,048) stories; serve() shows 3 top-level comments
    # of each, and the rest come BIG_THREAD_MORE_BATCH a call at most.
    assert stories_per_thread.min() >= BIG_THREADS.stories_per_prompt - 4 * math.sqrt(BIG_THREADS.stories_per_prompt)
    assert answered_morechildren >= ((stories_per_thread - 3) / BIG_THREAD_MORE_BATCH).sum()
    assert_scraped_all_served(tmp_path, server)
    metrics = json.loads((tmp_path / "reports/scrape.json").read_text())
    assert injected.total() >= 0.1 * len(server.requests)
    assert metrics["scrape/retries"] == injected.total()  # every fault met was retried, each counted once
    assert metrics["scrape/retries_429"] == injected[429]
    assert metrics["scrape/retries_5xx"] == injected[500] + injected[503]
    assert metrics["scrape/retries_timeout"] == metrics["scrape/retries_connection"] == metrics["scrape/refetches"] == 0
    assert (
        0 < metrics["scrape/retry_wait_s"] < 1.5 * FLAKY["backoff_s"] * 2 ** (FLAKY["max_tries"] - 2) * injected.total()
    )
    assert result.stderr.count("retrying in") == injected.total()


@pytest.mark.slow
def test_a_scrape_killed_in_the_middle_of_a_big_thread_resumes_without_loss_or_duplicates(tmp_path, big_thread_frames):
    reddit_params(tmp_path, checkpoint_every=1, **FLAKY)
    with serve(big_thread_frames, more_batch=BIG_THREAD_MORE_BATCH) as server:
        server.faults.rate, server.faults.retry_after_s = 0.15, 0
        env = praw_env(tmp_path, server)
        scraping = subprocess.Popen(
            [sys.executable, "-m", "stages", "scrape"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while not (scrape_state(tmp_path).get("pass") or {}).get("done") and time.monotonic() < deadline:
            time.sleep(0.02)
        first_saved = len(server.requests)
        while server.requests[first_saved:].count("POST /api/morechildren/") < 100 and time.monotonic() < deadline:
            time.sleep(0.02)
        scraping.send_signal(signal.SIGKILL)
        scraping.wait()
        assert scraping.returncode == -signal.SIGKILL
        done = scrape_state(tmp_path)["pass"]["done"]

        second_start = len(server.requests)
        rerun = run_ahf(tmp_path, "scrape", env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert_scraped_all_served(tmp_path, server)
    killed_in = set(server.content.submissions["id"]) - set(done)
    assert len(done) == 1 and comment_fetches(server, second_start) == killed_in  # the half-expanded thread, again
    assert "1 resumed" in rerun.stdout and not list((tmp_path / "data").glob(".raw*"))


@pytest.mark.slow
def test_a_thread_that_always_fails_ends_in_one_line_keeping_what_was_checkpointed(tmp_path, simulated_frames):
    reddit_params(tmp_path, checkpoint_every=5)
    with serve(simulated_frames) as server:
        broken = server.content.ordered_ids("top", "all")[12]
        server.faults.broken_path = f"/comments/{broken}"
        result = run_ahf(tmp_path, "scrape", env=praw_env(tmp_path, server))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"ahf scrape: error: fetching the comments of r/WritingPrompts/top submission {broken}: "
        f"gave up on GET /comments/{broken}/ after 3 tries: too many 503 error responses; "
        "the 12 submissions of this pass are saved in data/raw/: rerun to resume"
    )
    assert server.requests.count(f"GET /comments/{broken}/") == 3 and result.stderr.count("retrying in") == 2
    done = scrape_state(tmp_path)["pass"]["done"]
    assert sorted(pd.read_parquet(tmp_path / "data/raw/submissions.parquet")["id"]) == sorted(done)
    assert set(done) == set(server.content.ordered_ids("top", "all")[:12])


@pytest.mark.slow
def test_ctrl_c_saves_what_was_scraped_and_says_how_to_resume(tmp_path, simulated_frames):
    reddit_params(tmp_path, checkpoint_every=1000)  # no checkpoint before the interrupt: only the handler saves
    with serve(simulated_frames) as server:
        server.faults.delay_s = 0.01
        scraping = subprocess.Popen(
            [sys.executable, "-m", "stages", "scrape"],
            cwd=tmp_path,
            env=praw_env(tmp_path, server),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 120
        while len(comment_fetches(server)) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        scraping.send_signal(signal.SIGINT)
        _, stderr = scraping.communicate(timeout=60)
    assert scraping.returncode == 2 and "Traceback" not in stderr
    assert "interrupted; the " in stderr and "rerun to resume" in stderr
    done = scrape_state(tmp_path)["pass"]["done"]
    assert len(done) >= 4 and sorted(pd.read_parquet(tmp_path / "data/raw/submissions.parquet")["id"]) == sorted(done)


@pytest.mark.slow
def test_scraping_again_merges_and_keeps_the_newest_snapshot(tmp_path, simulated_frames):
    submissions, comments = simulated_frames
    with serve(simulated_frames) as server:
        reddit_params(tmp_path, limit=30)
        assert run_ahf(tmp_path, "scrape", env=praw_env(tmp_path, server)).returncode == 0
        top = set(server.content.ordered_ids("top", "all")[:30])
    with serve((submissions, comments.assign(score=comments["score"] + 1000))) as later:
        reddit_params(tmp_path, limit=30, listing="new")
        result = run_ahf(tmp_path, "scrape", env=praw_env(tmp_path, later))
        new = set(later.content.ordered_ids("new", "all")[:30])
    assert result.returncode == 0, result.stderr
    raw_submissions = pd.read_parquet(tmp_path / "data/raw/submissions.parquet")
    raw_comments = pd.read_parquet(tmp_path / "data/raw/comments.parquet")
    assert set(raw_submissions["id"]) == top | new and raw_comments["id"].is_unique
    rescraped = raw_comments["submission_id"].isin(new)
    served_scores = comments.drop_duplicates("id", keep="last").set_index("id")["score"]
    assert (raw_comments[rescraped]["score"].to_numpy() > 1000).all()
    assert (
        raw_comments[~rescraped]["score"].to_numpy() == served_scores.loc[raw_comments[~rescraped]["id"]].to_numpy()
    ).all()
    metrics = json.loads((tmp_path / "reports/scrape.json").read_text())
    assert metrics["scrape/new_submissions"] == len(new - top) and metrics["scrape/submissions"] == len(top | new)


@pytest.mark.slow
def test_real_data_replaces_simulated_data_but_not_another_subreddits(tmp_path, simulated_frames):
    write_params(tmp_path, simulate={"n_prompts": 20, "n_writers": 10})
    assert run_ahf(tmp_path, "scrape").returncode == 0
    with serve(simulated_frames) as server:
        reddit_params(tmp_path)
        env = praw_env(tmp_path, server)
        assert run_ahf(tmp_path, "scrape", env=env).returncode == 0
        assert_scraped_all_served(tmp_path, server)
        before = (tmp_path / "data/raw/comments.parquet").read_bytes()
        write_params(tmp_path, data={"source": "reddit", "subreddit": "Poetry", "reddit": {"praw_site": "fake"}})
        other = run_ahf(tmp_path, "scrape", env=env)
    assert other.returncode == 2 and "holds r/WritingPrompts, not r/Poetry" in other.stderr
    assert (tmp_path / "data/raw/comments.parquet").read_bytes() == before


# --- data.source: dump ---


def ndjson(*things: dict) -> bytes:
    return b"".join(json.dumps(thing).encode() + b"\n" for thing in things)


@pytest.mark.slow
def test_a_dump_import_merges_into_data_raw_and_counts_damage(tmp_path):
    lines = [
        {"id": "s1", "subreddit": "WritingPrompts", "title": "[WP] A door", "score": 5, "created_utc": 1609459200},
        {"id": "s2", "subreddit": "Poetry", "title": "A poem", "score": 5, "created_utc": 1609459200},
    ]
    blob = b"".join(json.dumps(line).encode() + b"\n" for line in lines) + b"{not json\n"
    (tmp_path / "RS.zst").write_bytes(zstandard.ZstdCompressor().compress(blob))
    story = {
        "id": "c1",
        "link_id": "t3_s1",
        "parent_id": "t3_s1",
        "body": "Once upon a time.",
        "score": 2,
        "created_utc": 1609459300,
        "subreddit": "WritingPrompts",
        "author": "writer",
    }
    # Replies before and after their story, in the same file and the next.
    replies = [
        story | {"id": "r1", "parent_id": "t1_c1", "body": "This gave me chills.", "author": "reader"},
        story | {"id": "r2", "parent_id": "t1_c1", "body": "Thanks for reading!"},  # the story's author
        story | {"id": "r3", "parent_id": "t1_r1", "body": "Same here."},  # a reply to a reply
    ]
    (tmp_path / "RC.zst").write_bytes(zstandard.ZstdCompressor().compress(ndjson(replies[0], story, replies[1])))
    later = story | {"id": "r4", "parent_id": "t1_c1", "body": "lol", "author": "another"}
    (tmp_path / "RC2.zst").write_bytes(zstandard.ZstdCompressor().compress(ndjson(later, replies[2])))
    dump = {"submissions": ["RS.zst"], "comments": ["RC.zst", "RC2.zst"]}
    write_params(tmp_path, data={"source": "dump", "dump": dump})
    result = run_ahf(tmp_path, "scrape", env=os.environ | {"AHF_AUTHOR_SALT": TEST_SALT})
    assert result.returncode == 0, result.stderr
    assert "1 submissions, 1 stories, 2 replies" in result.stdout and "1 corrupt_lines" in result.stdout
    metrics = json.loads((tmp_path / "reports/scrape.json").read_text())
    assert metrics["scrape/dump_corrupt_lines"] == 1 and metrics["scrape/skipped_other_subreddit"] == 1
    assert metrics["scrape/dump_truncated_files"] == 0
    assert metrics["scrape/skipped_reply_by_author"] == metrics["scrape/skipped_reply_deep"] == 1
    comments = pd.read_parquet(tmp_path / "data/raw/comments.parquet")
    assert comments["id"].tolist() == ["c1", "r1", "r4"] and comments["author_hash"].notna().all()
    assert "reader" not in set(comments["author_hash"])
    again = run_ahf(tmp_path, "scrape", env=os.environ | {"AHF_AUTHOR_SALT": TEST_SALT})
    metrics = json.loads((tmp_path / "reports/scrape.json").read_text())
    assert metrics["scrape/new_submissions"] == metrics["scrape/new_comments"] == 0
    assert again.returncode == 0 and len(pd.read_parquet(tmp_path / "data/raw/submissions.parquet")) == 1
    assert pd.read_parquet(tmp_path / "data/raw/comments.parquet")["id"].tolist() == ["c1", "r1", "r4"]


@pytest.mark.slow
def test_a_dump_source_without_files_says_so_and_writes_nothing(tmp_path):
    write_params(tmp_path, data={"source": "dump"})
    result = run_ahf(tmp_path, "scrape")
    assert result.returncode == 2 and "data.dump: list the dump files" in result.stderr
    assert not (tmp_path / "data").exists()
