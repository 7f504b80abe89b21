"""Pushshift / Arctic Shift dumps: zstandard-compressed NDJSON, one submission or comment a line.

Monthly dumps reach the history that Reddit's 1,000-item listings cannot. A month of
all of Reddit is hundreds of GB once decompressed, so files are streamed, only the
subreddit's rows are kept, and those leave in chunks (dump_chunks) that raw_store
merges into data/raw on disk: memory holds one chunk, not the subreddit. They were
compressed with a long window (zstd --long=31), which the decompressor must be allowed
to use.

Real dumps are damaged here and there: a garbled line, a record without a field the
contract needs, a file whose last frame an interrupted download cut off. Each is
counted and skipped and the import goes on; the counts go into the metrics.
"""

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pandas as pd
import zstandard
from tqdm import tqdm

from stages.common.contracts import COMMENT_COLUMNS, SUBMISSION_COLUMNS, raw_frame
from stages.common.errors import StageError
from stages.common.progress import redraw_interval_s
from stages.sources.reddit_records import comment_record, is_top_level, submission_record, whole_number
from stages.sources.reply_threads import SKIP_REASONS as REPLY_SKIP_REASONS
from stages.sources.reply_threads import is_bot

# REPLIES: comments below top level, candidates for the direct replies to stories. A
# reply may come before its story in a dump, or in another file, so which are kept is
# decided once every comment is in (raw_store.merge_chunks_into_raw).
SUBMISSIONS, COMMENTS, REPLIES = "submissions", "comments", "replies"
COLUMNS = {SUBMISSIONS: SUBMISSION_COLUMNS, COMMENTS: COMMENT_COLUMNS, REPLIES: COMMENT_COLUMNS}
ROWS_PER_CHUNK = 100_000  # records held at once (a few hundred MB as Python dicts)
MAX_WINDOW_SIZE = 2**31  # what `zstd --long=31` needs; the library refuses more than 128 MB by default
READ_SIZE = 2**20
PROBLEMS = ("corrupt_lines", "missing_fields", "truncated_files")
SKIP_REASONS = ("other_subreddit", *REPLY_SKIP_REASONS)


class TruncatedDump(Exception):
    """The compressed stream ended inside a frame."""


def decompressed_chunks(compressed: BinaryIO) -> Iterator[bytes]:
    """The decompressed bytes of each zstd frame in turn; TruncatedDump if the last is cut off."""
    decompressor = zstandard.ZstdDecompressor(max_window_size=MAX_WINDOW_SIZE)
    frame, inside_frame = decompressor.decompressobj(), False
    while data := compressed.read(READ_SIZE):
        while data:
            if output := frame.decompress(data):
                yield output
            inside_frame = True
            if not frame.eof:
                break
            data = frame.unused_data  # the next frame's start, if this read reached it
            frame, inside_frame = decompressor.decompressobj(), False
    if inside_frame:
        raise TruncatedDump


def split_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    rest = b""
    for chunk in chunks:
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        yield from lines
    if rest:
        yield rest


def dump_objects(path: Path, problems: Counter) -> Iterator[dict]:
    """Each JSON object in the dump at `path`; damage is counted in `problems`, never raised."""
    lines_read = 0
    with (
        open(path, "rb") as raw,
        tqdm.wrapattr(
            raw,
            "read",
            total=path.stat().st_size,
            desc=f"read {path.name}",
            unit="B",
            unit_scale=True,
            mininterval=redraw_interval_s(),
        ) as compressed,
    ):
        try:
            for line in split_lines(decompressed_chunks(compressed)):
                lines_read += 1
                try:
                    thing = json.loads(line)  # bytes: bad UTF-8 fails here, in this line only
                except ValueError:
                    thing = None
                if isinstance(thing, dict):
                    yield thing
                elif line.strip():
                    problems["corrupt_lines"] += 1
        except zstandard.ZstdError as error:
            if lines_read == 0:
                raise StageError(
                    f"{path} cannot be decompressed (not a zstandard dump, or damaged at its start): {error}"
                ) from error
            problems["truncated_files"] += 1
        except TruncatedDump:
            problems["truncated_files"] += 1


def snapshot_utc(fields: dict) -> int:
    """When the dump saw the score; dumps older than retrieved_* only say when it was posted."""
    return whole_number(fields.get("retrieved_on") or fields.get("retrieved_utc") or fields["created_utc"])


@dataclass
class DumpCounts:
    """What an import saw besides the rows it kept."""

    rows: Counter = field(default_factory=Counter)  # rows kept, by kind (REPLIES: once merged)
    skipped: Counter = field(default_factory=lambda: Counter(dict.fromkeys(SKIP_REASONS, 0)))  # on purpose
    problems: Counter = field(default_factory=lambda: Counter(dict.fromkeys(PROBLEMS, 0)))  # damage


def existing_paths(paths: list[str], key: str) -> list[Path]:
    missing = [path for path in paths if not Path(path).is_file()]
    if missing:
        raise StageError(f"{key}: {', '.join(missing)} not found")
    return [Path(path) for path in paths]


def dump_files(submission_paths: list[str], comment_paths: list[str]) -> dict[str, list[Path]]:
    """The files to import by kind; a clear error when there are none or one is missing."""
    files = {
        SUBMISSIONS: existing_paths(submission_paths, "data.dump.submissions"),
        COMMENTS: existing_paths(comment_paths, "data.dump.comments"),
    }
    if not files[SUBMISSIONS] and not files[COMMENTS]:
        raise StageError("data.dump: list the dump files to import under submissions and/or comments")
    return files


def dump_chunks(
    files: dict[str, list[Path]],
    subreddit: str,
    salt: str,
    counts: DumpCounts,
    rows_per_chunk: int = ROWS_PER_CHUNK,
) -> Iterator[tuple[str, pd.DataFrame]]:
    """(kind, frame of at most rows_per_chunk rows of the subreddit), file by file and line
    by line: only one chunk of records per kind is ever held, however large the dumps.
    Comments come as COMMENTS (stories) and REPLIES (candidates, bots already left out)."""
    for file_kind, paths in files.items():
        rows: dict[str, list[dict]] = {SUBMISSIONS: [], COMMENTS: [], REPLIES: []}
        for path in paths:
            for fields in dump_objects(path, counts.problems):
                try:
                    if str(fields["subreddit"]).lower() != subreddit.lower():
                        counts.skipped["other_subreddit"] += 1
                        continue
                    if file_kind == SUBMISSIONS:
                        kind, record = SUBMISSIONS, submission_record(fields, salt, snapshot_utc(fields))
                    else:
                        kind = COMMENTS if is_top_level(fields) else REPLIES
                        record = comment_record(fields, salt, snapshot_utc(fields))
                except (KeyError, ValueError, TypeError):
                    counts.problems["missing_fields"] += 1
                    continue
                if kind == REPLIES and is_bot(fields.get("author")):
                    counts.skipped["reply_bot"] += 1
                    continue
                counts.rows[kind] += kind != REPLIES
                rows[kind].append(record)
                if len(rows[kind]) == rows_per_chunk:
                    yield kind, raw_frame(rows[kind], COLUMNS[kind])
                    rows[kind] = []
        for kind, left in rows.items():
            if left:
                yield kind, raw_frame(left, COLUMNS[kind])
