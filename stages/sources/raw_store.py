"""data/raw as a store that scrapes add to: merge, checkpoint, resume.

Reddit lists about 1,000 submissions, so a dataset grows by scraping again and again
(and by importing dumps). Each scrape merges into what data/raw holds: one row per
id, the newest snapshot (by scraped_utc) winning, so a later scrape updates scores and
a deletion made since is respected.

A scrape writes data/raw every few submissions, atomically, together with
scrape_state.json: which source the folder holds and, for an unfinished pass over a
listing, the submissions it has done. Both land in the same folder swap, so after a
kill -9 the state never claims a submission whose rows are not there, and a rerun
skips exactly those.
"""

import json
import shutil
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from stages.common.atomic_io import atomic_output_dir, read_parquet, recover_output_dir, write_parquet
from stages.common.contracts import COMMENT_COLUMNS, SUBMISSION_COLUMNS, raw_frame, require_columns
from stages.common.errors import StageError
from stages.sources.reply_threads import reply_skip_reason
from stages.sources.sorted_runs import SortedRuns

SUBMISSIONS = "submissions.parquet"
COMMENTS = "comments.parquet"
STATE = "scrape_state.json"
REAL = "reddit"  # what data/raw holds after a PRAW scrape or a dump import
SIMULATED = "simulated"


@dataclass(frozen=True)
class RawData:
    submissions: pd.DataFrame
    comments: pd.DataFrame
    state: dict = field(default_factory=dict)


def empty_raw() -> RawData:
    return RawData(raw_frame([], SUBMISSION_COLUMNS), raw_frame([], COMMENT_COLUMNS))


def latest_snapshots(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per id: the most recent scrape holds the most settled score."""
    return frame.iloc[latest_positions(frame)]


def latest_positions(frame: pd.DataFrame) -> np.ndarray:
    """Positions of latest_snapshots' rows, in its order (by scraped_utc, as sort_values
    then drop_duplicates give them)."""
    order = np.argsort(frame["scraped_utc"].to_numpy(), kind="stable")
    return order[~frame["id"].iloc[order].duplicated(keep="last").to_numpy()]


def merge_snapshots(held: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """held + new, one row per id; at equal scraped_utc the new row wins."""
    frames = [frame for frame in (held, new) if len(frame)] or [held]
    merged = latest_snapshots(pd.concat(frames, ignore_index=True))
    return merged.sort_values("id", kind="stable", ignore_index=True)


def read_raw_frames(raw_dir: Path, remedy: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """data/raw's submissions and comments, their contract columns checked; reads only.
    `remedy` ends the error when a file is missing or damaged."""
    submissions = require_columns(read_parquet(raw_dir / SUBMISSIONS, remedy), SUBMISSION_COLUMNS, "submissions")
    comments = require_columns(read_parquet(raw_dir / COMMENTS, remedy), COMMENT_COLUMNS, "comments")
    return submissions, comments


def read_raw_state(raw_dir: Path) -> dict:
    """data/raw's scrape_state.json ({} when data/raw holds nothing); first repairs a write
    that a kill -9 cut short."""
    recover_output_dir(raw_dir)
    if not (raw_dir / SUBMISSIONS).exists():
        return {}
    state_path = raw_dir / STATE
    try:
        # Before this file existed only the simulator wrote data/raw.
        return json.loads(state_path.read_text()) if state_path.exists() else {"holds": SIMULATED}
    except json.JSONDecodeError as error:
        raise StageError(
            f"{state_path} is not valid JSON ({error}): restore it, or remove {raw_dir} to start afresh"
        ) from error


def read_raw(raw_dir: Path) -> RawData:
    """What data/raw holds, or nothing."""
    state = read_raw_state(raw_dir)
    if not state:
        return empty_raw()
    submissions, comments = read_raw_frames(raw_dir, "rerun the scrape")
    return RawData(submissions[list(SUBMISSION_COLUMNS)], comments[list(COMMENT_COLUMNS)], state)


def write_raw(raw_dir: Path, raw: RawData) -> None:
    with atomic_output_dir(raw_dir) as staging:
        write_parquet(raw.submissions, staging / SUBMISSIONS)
        write_parquet(raw.comments, staging / COMMENTS)
        write_state(staging, raw.state)


def write_state(folder: Path, state: dict) -> None:
    (folder / STATE).write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")


def parquet_columns(path: Path) -> list[str]:
    try:
        return pq.read_schema(path).names
    except Exception as error:  # pyarrow raises several types for a damaged file
        raise StageError(f"{path} cannot be read as parquet: {error}") from error


def merged_raw(
    held: RawData, submissions: pd.DataFrame, comments: pd.DataFrame, subreddit: str, unfinished_pass: dict | None
) -> RawData:
    """held extended by new rows of real data, with the state to write beside them."""
    return RawData(
        merge_snapshots(held.submissions, submissions),
        merge_snapshots(held.comments, comments),
        {"holds": REAL, "subreddit": subreddit, "pass": unfinished_pass},
    )


def extends_real_data(state: dict, subreddit: str) -> bool:
    """Whether a Reddit scrape or dump import merges into what data/raw holds: never into
    simulated rows (replaced: the simulator can rebuild them any time), never into another
    subreddit's (an error)."""
    if state.get("holds") != REAL:
        return False
    if state.get("subreddit", "").lower() != subreddit.lower():
        raise StageError(
            f"data/raw holds r/{state.get('subreddit')}, not r/{subreddit} (data.subreddit): "
            "move it away or remove it (rm -rf data/raw) to start a fresh scrape"
        )
    return True


def real_data_to_extend(held: RawData, subreddit: str) -> RawData:
    return held if extends_real_data(held.state, subreddit) else empty_raw()


def merge_chunks_into_raw(
    raw_dir: Path,
    chunks: Iterable[tuple[str, pd.DataFrame]],
    subreddit: str,
) -> tuple[RawData, RawData, Counter]:
    """Merge chunks of new rows ("submissions", "comments" or "replies", frame) into raw_dir
    as merged_raw would, but on disk (sources/sorted_runs.py), so that neither what raw_dir
    holds nor what arrives is ever in memory at once. "replies" are candidates: those whose
    parent is a story, in raw_dir or among the new rows, join the comments
    (sources/reply_threads.py). Returns the ids held before and the ids written, as RawData
    of id columns, and the candidates by fate ("kept", or the reason they were skipped):
    what the metrics count."""
    state = read_raw_state(raw_dir)
    extend = extends_real_data(state, subreddit)
    files = {"submissions": (SUBMISSIONS, SUBMISSION_COLUMNS), "comments": (COMMENTS, COMMENT_COLUMNS)}
    with atomic_output_dir(raw_dir) as staging:
        runs = {kind: SortedRuns(staging / f".{kind}-runs", columns) for kind, (_, columns) in files.items()}
        candidates = SortedRuns(staging / ".replies-runs", COMMENT_COLUMNS)
        held = {kind: pd.Series([], dtype="str") for kind in files}
        for kind, (name, columns) in files.items():
            if extend:
                require_columns(pd.DataFrame(columns=parquet_columns(raw_dir / name)), columns, kind)
                held[kind] = runs[kind].add_file(raw_dir / name)
        for kind, frame in chunks:
            (candidates if kind == "replies" else runs[kind]).add(frame)
        replies = keep_direct_replies(candidates, runs["comments"])
        written = {kind: runs[kind].merge_into(staging / name) for kind, (name, _) in files.items()}
        for kind_runs in (*runs.values(), candidates):
            shutil.rmtree(kind_runs.folder)
        unfinished_pass = state.get("pass") if extend else None  # an interrupted PRAW pass stays resumable
        write_state(staging, {"holds": REAL, "subreddit": subreddit, "pass": unfinished_pass})
    return (
        RawData(pd.DataFrame({"id": held["submissions"]}), pd.DataFrame({"id": held["comments"]})),
        RawData(pd.DataFrame({"id": written["submissions"]}), pd.DataFrame({"id": written["comments"]})),
        replies,
    )


def keep_direct_replies(candidates: SortedRuns, comments: SortedRuns) -> Counter:
    """Add to `comments` the candidates that reply to one of its stories, run by run in
    their order of arrival; returns the candidates counted by fate."""
    fates: Counter = Counter()
    if not candidates.runs:
        return fates
    parents = comments.read_columns(["id", "parent_id", "author_hash", "stickied"])
    for frame in candidates.frames():
        reason = reply_skip_reason(frame, parents)
        fates.update(reason.dropna().tolist())
        kept = frame[reason.isna().to_numpy()]
        fates["kept"] += len(kept)
        if len(kept):
            comments.add(kept)
    return fates


def resumable_ids(state: dict, pass_key: dict) -> set[str]:
    """Submissions an unfinished pass over the same listing has done already."""
    unfinished = state.get("pass") or {}
    return set(unfinished.get("done", [])) if unfinished.get("key") == pass_key else set()


class Checkpoints:
    """A scrape's records so far, written into data/raw (merged) every `every` submissions."""

    def __init__(self, raw_dir: Path, held: RawData, subreddit: str, pass_key: dict, done: set[str], every: int):
        self.raw_dir, self.held, self.subreddit, self.every = raw_dir, held, subreddit, every
        self.pass_key = pass_key
        self.done = sorted(done)
        self.submissions: list[dict] = []
        self.comments: list[dict] = []
        self.unsaved = 0

    def add(self, submission: dict, comments: list[dict]) -> None:
        self.submissions.append(submission)
        self.comments += comments
        self.done.append(submission["id"])
        self.unsaved += 1
        if self.unsaved >= self.every:
            self.write(complete=False)

    def write(self, complete: bool) -> RawData:
        raw = merged_raw(
            self.held,
            raw_frame(self.submissions, SUBMISSION_COLUMNS),
            raw_frame(self.comments, COMMENT_COLUMNS),
            self.subreddit,
            None if complete else {"key": self.pass_key, "done": self.done},
        )
        write_raw(self.raw_dir, raw)
        self.unsaved = 0
        return raw
