"""rank: raw comments -> stories with feedback signals, adjusted rankings, tiers and splits,
plus preference pairs. The feedback is a story's votes, de-confounded, the sentiment of
the replies readers left under it, or both (rank.feedback; stages/ranking/feedback_signals.py).
"""

import tempfile
from contextlib import nullcontext
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
from stages.ranking.gold_workers import GOLD_WORKERS, gold_in_workers, texts_file
from stages.ranking.replies import select_replies
from stages.ranking.reply_sentiment import reply_sentiments, vader_words
from stages.ranking.reply_signal import story_reply_statistics
from stages.ranking.story_selection import select_stories
from stages.sources.raw_store import SUBMISSIONS, read_raw_frames


def gold_metrics(stories: pd.DataFrame, signals: dict[str, np.ndarray], gold: np.ndarray) -> dict[str, float]:
    """How well each signal recovers true quality (each story's gold), over the stories
    that have it; only the simulator knows gold. stories: every selected story, with
    score and z_rank; signals: feedback_signals' by name."""
    values = {"score": stories["score"].to_numpy(dtype=float), "rank": -stories["z_rank"].to_numpy()} | signals
    metrics = {}
    for name, signal in values.items():
        scored = pd.DataFrame({"submission_id": stories["submission_id"], "gold": gold, name: signal})
        scored = scored[np.isfinite(signal)]
        metrics[f"rank/spearman_gold_{name}"] = spearman(scored["gold"], scored[name]) if len(scored) else np.nan
        if name != "rank":  # within a prompt, rank and score order the stories alike
            metrics[f"rank/within_spearman_gold_{name}"] = mean_within_spearman(scored, "gold", name)
    return metrics


def pair_gold_agreement(gold: np.ndarray, chosen: np.ndarray, rejected: np.ndarray) -> dict[str, float]:
    return {"rank/pair_gold_agreement": float((gold[chosen] > gold[rejected]).mean()) if len(chosen) else np.nan}


def rank_metrics(
    n_submissions: int,
    n_comments: int,
    dropped: dict[str, int],
    selected: pd.DataFrame,
    stories: pd.DataFrame,
    chosen: np.ndarray,
    prior_replies: float,
) -> dict[str, float | int]:
    """selected: every selected story; stories: those ranked (all but, under rank.feedback:
    replies, the ones without replies)."""
    pair_splits = stories["split"].to_numpy()[chosen]
    metrics: dict[str, float | int] = {
        "rank/submissions_in": n_submissions,
        "rank/comments_in": n_comments,
        "rank/stories": len(stories),
        "rank/submissions": int(stories["submission_id"].nunique()),
        "rank/pairs": len(chosen),
        "rank/replies": int(selected["n_replies"].sum()),
        "rank/reply_share": float((selected["n_replies"] > 0).mean()),
        "rank/reply_prior_replies": prior_replies,
    }
    metrics |= {f"rank/dropped_{reason}": count for reason, count in dropped.items()}
    metrics |= {f"rank/stories_{split}": int((stories["split"] == split).sum()) for split in SPLITS}
    metrics |= {f"rank/pairs_{split}": int((pair_splits == split).sum()) for split in SPLITS}
    metrics |= {f"rank/tier_share_{tier}": float((stories["tier"] == tier).mean()) for tier in TIERS}
    return metrics


# What a reply candidate needs of its comment row (ranking/replies.py).
REPLY_COLUMNS = ["id", "parent_id", "body", "author_hash", "stickied", "distinguished"]


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
        spawned_pool(GOLD_WORKERS, preloaded=("stages.ranking.gold_workers",))
        if data.source == "simulated"
        else nullcontext() as pool,
        tempfile.TemporaryDirectory(prefix="ahf-rank-") as scratch,
    ):
        selection = select_stories(submissions, comments, config.min_chars, config.min_stories)
        selected, dropped = selection.stories, selection.dropped
        candidates = comments[REPLY_COLUMNS].iloc[selection.reply_rows]
        comment_ids = comments["id"]
        del comments  # the largest frame of the stage
        if selected.empty:
            reasons = ", ".join(f"{reason} {count}" for reason, count in dropped.items() if count)
            raise StageError(f"no stories left to rank after selection (dropped: {reasons or 'none'})")
        gold = gold_in_workers(pool, texts_file(selected, Path(scratch)), len(selected)) if pool else None
        replies, reply_dropped = select_replies(candidates, comment_ids, selected, vader_words())
        del candidates, comment_ids
        sentiment = reply_sentiments(replies["body"], config.sentiment)
        statistics = story_reply_statistics(replies["story"].to_numpy(), sentiment, len(selected))
        ranked = rank_stories(selected, statistics, config)  # in selected's order, as gold is
        labelled = ranked.stories["tier"].notna()
        stories = ranked.stories[labelled].reset_index(drop=True)
        if stories.empty:
            raise StageError(
                f"rank.feedback: {config.feedback}: no story has a reply to rank it by "
                f"({len(replies)} replies kept of {len(replies) + sum(reply_dropped.values())})"
            )
        dropped |= reply_dropped | {"no_reply": int((~labelled).sum())}
        chosen, rejected = pair_positions(stories, config.pair_rule, config.pair_margin, config.shp_score_ratio)
        metrics = rank_metrics(
            len(submissions), n_comments, dropped, ranked.stories, stories, chosen, ranked.prior_replies
        )
        with atomic_output_dir(PROCESSED_DIR) as staging:
            write_parquet(stories[[*STORY_COLUMNS, "created_utc"]], staging / STORIES_FILE.name)
            write_pairs(stories, chosen, rejected, staging / PAIRS_FILE.name)
        if gold:
            gold_values = np.concatenate([part.get() for part in gold])
            metrics |= gold_metrics(ranked.stories, ranked.signals, gold_values)
            metrics |= pair_gold_agreement(gold_values[labelled.to_numpy()], chosen, rejected)
    metrics = {
        key: (None if isinstance(value, float) and not np.isfinite(value) else value) for key, value in metrics.items()
    }
    write_metrics(metrics_file("rank"), metrics)
    return (
        f"rank ({config.feedback}): {len(stories)} stories in {metrics['rank/submissions']} submissions, "
        f"{len(chosen)} pairs, {len(replies)} replies; dropped {sum(dropped.values())} comments"
    )
