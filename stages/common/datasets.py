"""Reading the rank stage's outputs, checked against the processed data contract."""

import pandas as pd

from stages.common.atomic_io import read_parquet
from stages.common.contracts import PAIR_COLUMNS, STORY_COLUMNS, require_columns
from stages.common.errors import StageError
from stages.common.layout import PAIRS_FILE, STORIES_FILE


def load_stories() -> pd.DataFrame:
    return require_columns(read_parquet(STORIES_FILE, "run `ahf rank` first"), STORY_COLUMNS, str(STORIES_FILE))


def load_pairs() -> pd.DataFrame:
    return require_columns(read_parquet(PAIRS_FILE, "run `ahf rank` first"), PAIR_COLUMNS, str(PAIRS_FILE))


def split_of(frame: pd.DataFrame, split: str, what: str) -> pd.DataFrame:
    rows = frame[frame["split"] == split]
    if rows.empty:
        raise StageError(f"the {split} split holds no {what}: scrape more prompts or change rank.*_share")
    return rows.reset_index(drop=True)
