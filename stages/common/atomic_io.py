"""Writes that either land whole or not at all.

A stage killed half way (an error, Ctrl-C, kill -9) must leave the previous output
as it was, never a truncated parquet file that the next stage would read.

A folder cannot be swapped for another in one rename, so atomic_output_dir retires
the old folder first; a kill -9 between the two renames leaves only the retired one,
which recover_output_dir (run before every write and by readers that resume) puts
back. One writer per output folder at a time.
"""

import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from stages.common.errors import StageError


def retired_dir(final: Path) -> Path:
    return final.with_name(f".{final.name}.old")


def recover_output_dir(final: Path) -> None:
    """Undo what a kill -9 during atomic_output_dir left: a retired folder, staging folders."""
    final = Path(final)
    retired = retired_dir(final)
    if retired.exists():
        if final.exists():
            shutil.rmtree(retired)
        else:
            os.replace(retired, final)
    for abandoned in final.parent.glob(f".{final.name}.*"):
        if abandoned.is_dir():
            shutil.rmtree(abandoned, ignore_errors=True)


def default_mode(directory: bool) -> int:
    """The mode mkdir() or open() would give: mkdtemp and mkstemp make private ones
    (0700, 0600), which would leave a report unreadable to anyone else."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


@contextmanager
def atomic_output_dir(final: Path) -> Iterator[Path]:
    """Yield an empty folder beside `final`; on success it replaces `final`."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    recover_output_dir(final)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    os.chmod(staging, default_mode(directory=True))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    retired = retired_dir(final)
    if final.exists():
        os.replace(final, retired)
    os.replace(staging, final)
    shutil.rmtree(retired, ignore_errors=True)


def atomic_write_text(path: Path, text: str, mode: int | None = None) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), mode)


def atomic_write_bytes(path: Path, data: bytes, mode: int | None = None) -> None:
    """`mode` None: what open() would give; a secret passes 0o600."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, staging = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(staging, default_mode(directory=False) if mode is None else mode)
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise


def write_metrics(path: Path, metrics: dict[str, float | int | bool | None]) -> None:
    """Flat JSON, keys sorted, so `dvc metrics diff` and git diffs stay readable.
    NaN and infinities are not JSON: they are written as null (no value)."""
    finite = {
        key: None if isinstance(value, float) and not math.isfinite(value) else value for key, value in metrics.items()
    }
    atomic_write_text(path, json.dumps(finite, indent=2, sort_keys=True) + "\n")


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
