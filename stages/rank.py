"""rank: raw comments -> stories with adjusted rankings, tiers and splits, plus preference pairs."""

import itertools
import tempfile
from contextlib import nullcontext
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from stages.common.atomic_io import atomic_output_dir, write_metrics, write_parquet
from stages.common.config import DataConfig, RankConfig, load_section
from stages.common.contracts import PAIR_COLUMNS, SPLITS, STORY_COLUMNS, TIERS
from stages.common.errors import StageError
from stages.common.layout import PAIRS_FILE, PROCESSED_DIR, RAW_DIR, STORIES_FILE, metrics_file
from stages.common.worker_pool import spawned_pool
from stages.ranking.adjusted_ranking import mean_within_spearman, pair_positions, pairs_frame, rank_stories, spearman
from stages.ranking.story_selection import select_stories
from stages.simulator.gold_batch import batch_gold
from stages.sources.raw_store import SUBMISSIONS, read_raw_frames


def gold_metrics(stories: pd.DataFrame, gold: np.ndarray, chosen: np.ndarray, rejected: np.ndarray) -> dict[str, float]:
    """How well each signal recovers true quality (each story's gold); only the simulator knows it."""
    stories = stories.assign(gold=gold)
    return {
        "rank/spearman_gold_score": spearman(stories["gold"], stories["score"]),
        # rank 1 is the best story, so correlate against the negated z-score of rank.
        "rank/spearman_gold_rank": spearman(stories["gold"], -stories["z_rank"]),
        "rank/spearman_gold_adjusted": spearman(stories["gold"], stories["adjusted"]),
        "rank/within_spearman_gold_rank": mean_within_spearman(
            stories.assign(neg_rank=-stories["rank"]), "gold", "neg_rank"
        ),
        "rank/within_spearman_gold_adjusted": mean_within_spearman(stories, "gold", "adjusted"),
        "rank/pair_gold_agreement": float((gold[chosen] > gold[rejected]).mean()) if len(chosen) else float("nan"),
    }


def rank_metrics(
    n_submissions: int, n_comments: int, dropped: dict[str, int], stories: pd.DataFrame, chosen: np.ndarray
) -> dict[str, float | int]:
    pair_splits = stories["split"].to_numpy()[chosen]
    metrics: dict[str, float | int] = {
        "rank/submissions_in": n_submissions,
        "rank/comments_in": n_comments,
        "rank/stories": len(stories),
        "rank/submissions": int(stories["submission_id"].nunique()),
        "rank/pairs": len(chosen),
    }
    metrics |= {f"rank/dropped_{reason}": count for reason, count in dropped.items()}
    metrics |= {f"rank/stories_{split}": int((stories["split"] == split).sum()) for split in SPLITS}
    metrics |= {f"rank/pairs_{split}": int((pair_splits == split).sum()) for split in SPLITS}
    metrics |= {f"rank/tier_share_{tier}": float((stories["tier"] == tier).mean()) for tier in TIERS}
    return metrics


def texts_file(stories: pd.DataFrame, folder: Path) -> Path:
    """The stories' prompts and texts as an Arrow file, for the gold worker to map: a
    pickle of them, sent through a pipe, would be copied three times in this process."""
    path = folder / "texts.arrow"
    table = pa.Table.from_pandas(stories[["prompt", "story"]], preserve_index=False)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return path


def gold_of_file(path: Path, start: int, stop: int) -> np.ndarray:
    """batch_gold of texts_file's stories start to stop, in a worker."""
    with pa.memory_map(str(path)) as source:
        table = pa.ipc.open_file(source).read_all().slice(start, stop - start)
        return batch_gold(table.column("prompt"), table.column("story"))


# Two, on the two cores this was measured on: the stage's own work takes the rest.
GOLD_WORKERS = 2


def gold_in_workers(pool: Pool, path: Path, n_stories: int) -> list[AsyncResult]:
    """Gold of the stories in path, one share each for the pool's workers, in order."""
    bounds = np.linspace(0, n_stories, GOLD_WORKERS + 1).astype(int).tolist()
    return [pool.apply_async(gold_of_file, (path, start, stop)) for start, stop in itertools.pairwise(bounds)]


# Pairs repeat their stories' text (1.6 million pairs hold ~1.5 GB of it at a million
# comments), so they are built and written this many at a time.
PAIRS_PER_BLOCK = 2**17


def write_pairs(stories: pd.DataFrame, chosen: np.ndarray, rejected: np.ndarray, path: Path) -> None:
    """As write_parquet(pairs_frame(stories, chosen, rejected)) writes it, block by block."""
    writer = None
    try:
        for start in range(0, max(len(chosen), 1), PAIRS_PER_BLOCK):
            block = slice(start, start + PAIRS_PER_BLOCK)
            frame = pairs_frame(stories, chosen[block], rejected[block])[[*PAIR_COLUMNS, "chosen_id", "rejected_id"]]
            table = pa.Table.from_pandas(frame, preserve_index=False)
            writer = writer or pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
    finally:
        if writer:
            writer.close()


def run(params: Path) -> str:
    data = load_section(params, "data", DataConfig)
    config = load_section(params, "rank", RankConfig)
    submissions, comments = read_raw_frames(RAW_DIR, "run `ahf scrape` first")
    if submissions.empty:
        raise StageError(f"{RAW_DIR / SUBMISSIONS} holds no submissions: nothing to rank")

    n_comments = len(comments)
    # Gold only feeds the metrics, yet it is half the stage's work at a million comments:
    # workers, started now, score it beside the ranking and the writes, half each.
    with (
        spawned_pool(GOLD_WORKERS, preloaded=("stages.rank",)) if data.source == "simulated" else nullcontext() as pool,
        tempfile.TemporaryDirectory(prefix="ahf-rank-") as scratch,
    ):
        selected, dropped = select_stories(submissions, comments, config.min_chars, config.min_stories)
        del comments  # the largest frame of the stage
        if selected.empty:
            reasons = ", ".join(f"{reason} {count}" for reason, count in dropped.items() if count)
            raise StageError(f"no stories left to rank after selection (dropped: {reasons or 'none'})")
        gold = gold_in_workers(pool, texts_file(selected, Path(scratch)), len(selected)) if pool else None
        stories = rank_stories(selected, config)  # in selected's order, as gold is
        chosen, rejected = pair_positions(stories, config.pair_rule, config.pair_margin, config.shp_score_ratio)
        metrics = rank_metrics(len(submissions), n_comments, dropped, stories, chosen)
        with atomic_output_dir(PROCESSED_DIR) as staging:
            write_parquet(stories[[*STORY_COLUMNS, "created_utc"]], staging / STORIES_FILE.name)
            write_pairs(stories, chosen, rejected, staging / PAIRS_FILE.name)
        if gold:
            metrics |= gold_metrics(stories, np.concatenate([part.get() for part in gold]), chosen, rejected)
    metrics = {key: (None if isinstance(value, float) and np.isnan(value) else value) for key, value in metrics.items()}
    write_metrics(metrics_file("rank"), metrics)
    return (
        f"rank: {len(stories)} stories in {metrics['rank/submissions']} submissions, {len(chosen)} pairs; "
        f"dropped {sum(dropped.values())} comments"
    )
