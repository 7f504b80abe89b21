"""Writes that either land whole or not at all.

A stage killed half way (an error, Ctrl-C, kill -9) must leave the previous output
as it was, never a truncated parquet file that the next stage would read.
"""

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from stages.errors import StageError


@contextmanager
def atomic_output_dir(final: Path) -> Iterator[Path]:
    """Yield an empty folder beside `final`; on success it replaces `final` in one rename."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    retired = final.with_name(f".{final.name}.old")
    shutil.rmtree(retired, ignore_errors=True)
    if final.exists():
        os.replace(final, retired)
    os.replace(staging, final)
    shutil.rmtree(retired, ignore_errors=True)


def atomic_write_text(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, staging = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise


def write_metrics(path: Path, metrics: dict[str, float | int | bool | None]) -> None:
    """Flat JSON, keys sorted, so `dvc metrics diff` and git diffs stay readable."""
    atomic_write_text(path, json.dumps(metrics, indent=2, sort_keys=True) + "\n")


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write into a folder that is itself being staged (see atomic_output_dir)."""
    frame.to_parquet(path, index=False, engine="pyarrow")


def read_parquet(path: Path, what: str) -> pd.DataFrame:
    if not Path(path).exists():
        raise StageError(f"{path} not found: {what}")
    try:
        return pd.read_parquet(path, engine="pyarrow")
    except Exception as error:  # pyarrow raises several types for a damaged file
        raise StageError(f"{path} cannot be read as parquet: {error}") from error
