"""scrape: fill data/raw/ with submissions and comments, from the simulator (default),
Reddit through PRAW, or Pushshift-style dump files.

The simulator is the whole truth of its subreddit, so it replaces data/raw. Reddit
and dumps each see only part of a subreddit's history, so they merge into it
(stages/sources/raw_store.py); `rm -rf data/raw` starts afresh.
"""

from collections import Counter
from pathlib import Path

from stages.common.atomic_io import write_metrics
from stages.common.config import DataConfig, SimulateConfig, load_section
from stages.common.errors import StageError
from stages.common.layout import RAW_DIR, metrics_file
from stages.simulator.simulator import simulate_subreddit
from stages.sources.dumps import COMMENTS, REPLIES, SUBMISSIONS, DumpCounts, dump_chunks, dump_files
from stages.sources.privacy import author_salt
from stages.sources.raw_store import (
    SIMULATED,
    Checkpoints,
    RawData,
    merge_chunks_into_raw,
    read_raw,
    real_data_to_extend,
    resumable_ids,
    write_raw,
)
from stages.sources.reddit import ListingScrape, reddit_client
from stages.sources.reddit_http import RetryLog


def scrape_simulated(data: DataConfig, params: Path) -> str:
    submissions, comments = simulate_subreddit(load_section(params, "simulate", SimulateConfig), data.subreddit)
    write_raw(RAW_DIR, RawData(submissions, comments, {"holds": SIMULATED, "subreddit": data.subreddit}))
    write_metrics(
        metrics_file("scrape"),
        {
            "scrape/submissions": len(submissions),
            "scrape/comments": len(comments),
        },
    )
    return f"scrape (simulated): {len(submissions)} submissions, {len(comments)} comments -> {RAW_DIR}/"


def scrape_metrics(
    held: RawData, raw: RawData, fetched: int, stories: int, replies: int, skipped: Counter
) -> dict[str, int]:
    return {
        "scrape/submissions": len(raw.submissions),
        "scrape/comments": len(raw.comments),
        "scrape/fetched_submissions": fetched,
        "scrape/stories": stories,
        "scrape/replies": replies,
        "scrape/new_submissions": int((~raw.submissions["id"].isin(held.submissions["id"])).sum()),
        "scrape/new_comments": int((~raw.comments["id"].isin(held.comments["id"])).sum()),
    } | {f"scrape/skipped_{reason}": count for reason, count in sorted(skipped.items())}


def retry_metrics(log: RetryLog, refetches: int) -> dict[str, int | float]:
    causes = {f"scrape/retries_{cause}": count for cause, count in log.causes.items()}
    return {
        "scrape/retries": log.retries,
        **causes,
        "scrape/retry_wait_s": round(log.wait_s, 3),
        "scrape/refetches": refetches,
    }


def summary(what: str, fetched: int, stories: int, replies: int, skipped: Counter, raw: RawData) -> str:
    skips = ", ".join(f"{count} {reason}" for reason, count in sorted(skipped.items()) if count) or "none"
    return (
        f"scrape ({what}): {fetched} submissions, {stories} stories, {replies} replies; skipped: {skips}; "
        f"{RAW_DIR}/ holds {len(raw.submissions)} submissions, {len(raw.comments)} comments"
    )


def scrape_reddit(data: DataConfig) -> str:
    config = data.reddit
    retry_log = RetryLog()
    reddit = reddit_client(config, retry_log)
    held = real_data_to_extend(read_raw(RAW_DIR), data.subreddit)
    pass_key = {"listing": config.listing, "time_filter": config.time_filter, "limit": config.limit}
    done = resumable_ids(held.state, pass_key)
    checkpoints = Checkpoints(RAW_DIR, held, data.subreddit, pass_key, done, config.checkpoint_every)
    walk = ListingScrape(reddit, data.subreddit, config, author_salt(), done)
    fetched = stories = replies = 0
    try:
        for scraped in walk:
            checkpoints.add(scraped.submission, scraped.stories + scraped.replies)
            fetched, stories, replies = fetched + 1, stories + len(scraped.stories), replies + len(scraped.replies)
    except (StageError, KeyboardInterrupt) as error:
        if checkpoints.unsaved:
            checkpoints.write(complete=False)
        kept = (
            f"; the {len(checkpoints.done)} submissions of this pass are saved in {RAW_DIR}/: rerun to resume"
            if checkpoints.done
            else ""
        )
        raise StageError(f"{'interrupted' if isinstance(error, KeyboardInterrupt) else error}{kept}") from error
    raw = checkpoints.write(complete=True)
    write_metrics(
        metrics_file("scrape"),
        scrape_metrics(held, raw, fetched, stories, replies, walk.skipped) | retry_metrics(retry_log, walk.refetches),
    )
    return summary(f"reddit r/{data.subreddit} {config.listing}", fetched, stories, replies, walk.skipped, raw)


def import_dumps(data: DataConfig) -> str:
    files = dump_files(data.dump.submissions, data.dump.comments)
    counts = DumpCounts()
    held, raw, replies = merge_chunks_into_raw(
        RAW_DIR, dump_chunks(files, data.subreddit, author_salt(), counts), data.subreddit
    )
    counts.rows[REPLIES] = replies.pop("kept", 0)
    counts.skipped.update(replies)
    fetched, stories, replies = counts.rows[SUBMISSIONS], counts.rows[COMMENTS], counts.rows[REPLIES]
    metrics = scrape_metrics(held, raw, fetched, stories, replies, counts.skipped) | {
        f"scrape/dump_{problem}": count for problem, count in counts.problems.items()
    }
    write_metrics(metrics_file("scrape"), metrics)
    return summary(f"dump r/{data.subreddit}", fetched, stories, replies, counts.skipped + counts.problems, raw)


def run(params: Path) -> str:
    data = load_section(params, "data", DataConfig)
    if data.source == "reddit":
        return scrape_reddit(data)
    if data.source == "dump":
        return import_dumps(data)
    return scrape_simulated(data, params)
