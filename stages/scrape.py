"""scrape: fill data/raw/ with submissions and comments, from the simulator (default),
Reddit through PRAW, or Pushshift-style dump files."""

from pathlib import Path

from stages.atomic_io import atomic_output_dir, write_metrics, write_parquet
from stages.config import DataConfig, SimulateConfig, load_section
from stages.errors import StageError
from stages.layout import RAW_DIR, metrics_file
from stages.simulator import simulate_subreddit



def run(params: Path) -> str:
    data = load_section(params, "data", DataConfig)
    if data.source != "simulated":
        raise StageError(f"data.source: {data.source!r} is not implemented yet; use 'simulated'")
    submissions, comments = simulate_subreddit(load_section(params, "simulate", SimulateConfig), data.subreddit)

    with atomic_output_dir(RAW_DIR) as staging:
        write_parquet(submissions, staging / "submissions.parquet")
        write_parquet(comments, staging / "comments.parquet")
    write_metrics(metrics_file("scrape"), {
        "scrape/submissions": len(submissions),
        "scrape/comments": len(comments),
    })
    return f"scrape ({data.source}): {len(submissions)} submissions, {len(comments)} comments -> {RAW_DIR}/"
