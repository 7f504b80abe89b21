"""Rows merged into data/raw on disk, so that an import's memory does not grow with it.

A month of dumps can hold millions of a subreddit's rows: as Python records they would
need tens of GB, and even as columns the merge with what data/raw holds would copy
them several times. So rows arrive in chunks, each chunk is sorted by id and written as
a parquet file (a run), and the merge reads back only two columns of every run (id,
scraped_utc) to choose, for each id, the row that merge_snapshots would keep: the
newest snapshot, and at equal scraped_utc the one that came last. The chosen rows are
then copied out block by block in id order: each run is sorted, so every block reads
on from where the last one stopped, one row group at a time.
"""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from stages.common.contracts import RAW_BOOLEAN_COLUMNS, RAW_INTEGER_COLUMNS

ROWS_PER_ROW_GROUP = 8192
ROWS_PER_BLOCK = 2**17


def arrow_schema(columns: tuple[str, ...]) -> pa.Schema:
    """The raw contract as Arrow types, the same for every run (a chunk whose column is
    all None would otherwise get Arrow's null type)."""

    def arrow_type(column: str) -> pa.DataType:
        if column in RAW_INTEGER_COLUMNS:
            return pa.int64()
        return pa.bool_() if column in RAW_BOOLEAN_COLUMNS else pa.large_string()

    return pa.schema([(column, arrow_type(column)) for column in columns])


class SortedRuns:
    """Rows of one contract, written to `folder` one sorted chunk at a time."""

    def __init__(self, folder: Path, columns: tuple[str, ...]):
        self.folder, self.columns, self.schema = folder, columns, arrow_schema(columns)
        self.runs: list[Path] = []
        folder.mkdir(parents=True, exist_ok=True)

    def add(self, frame: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(frame[list(self.columns)], schema=self.schema, preserve_index=False)
        self._write(table)

    def add_file(self, path: Path) -> pd.Series:
        """Every row of a parquet file of the contract (data/raw's own), chunk by chunk;
        returns its ids."""
        ids = []
        for batch in pq.ParquetFile(path).iter_batches(batch_size=ROWS_PER_BLOCK, columns=list(self.columns)):
            table = pa.Table.from_batches([batch]).cast(self.schema)
            ids.append(table.column("id").to_pandas())
            self._write(table)
        return pd.concat(ids, ignore_index=True) if ids else pd.Series([], dtype="str")

    def read_columns(self, columns: list[str]) -> pd.DataFrame:
        """These columns of every row written so far, run after run."""
        frames = [pq.read_table(run, columns=columns).to_pandas() for run in self.runs]
        return pd.concat(frames, ignore_index=True) if frames else self.schema.empty_table().select(columns).to_pandas()

    def frames(self) -> Iterator[pd.DataFrame]:
        """Each run's rows in turn (a run holds one chunk: its memory is bounded)."""
        for run in self.runs:
            yield pq.read_table(run).to_pandas()

    def _write(self, table: pa.Table) -> None:
        path = self.folder / f"run-{len(self.runs):06d}.parquet"
        # Arrow's sort is stable: rows of one id keep their order of arrival.
        pq.write_table(table.sort_by("id"), path, row_group_size=ROWS_PER_ROW_GROUP)
        self.runs.append(path)

    def merge_into(self, path: Path) -> pd.Series:
        """Write one row per id, sorted by id, to `path`; returns the ids written."""
        winners = latest_rows(self.runs)
        readers = [RunReader(run) for run in self.runs]
        with pq.ParquetWriter(path, self.schema) as writer:
            if winners.empty:
                writer.write_table(self.schema.empty_table())
            for start in range(0, len(winners), ROWS_PER_BLOCK):
                block = winners.iloc[start : start + ROWS_PER_BLOCK]
                writer.write_table(gathered(readers, block["run"].to_numpy(), block["row"].to_numpy()))
        return winners["id"].reset_index(drop=True)


def latest_rows(runs: list[Path]) -> pd.DataFrame:
    """(id, run, row) of the row kept for each id, in id order: as raw_store.latest_snapshots
    keeps it, the newest scraped_utc, and at a tie the last to arrive (runs in order)."""
    keys = []
    for number, run in enumerate(runs):
        key = pq.read_table(run, columns=["id", "scraped_utc"]).to_pandas()
        keys.append(key.assign(run=number, row=np.arange(len(key))))
    if not keys:
        return pd.DataFrame({"id": pd.Series([], dtype="str"), "run": np.zeros(0, int), "row": np.zeros(0, int)})
    arrived = pd.concat(keys, ignore_index=True)
    latest = arrived.sort_values("scraped_utc", kind="stable").drop_duplicates("id", keep="last")
    return latest.sort_values("id", kind="stable", ignore_index=True)[["id", "run", "row"]]


class RunReader:
    """Rows of one run by position, asked for in increasing order: one row group in memory."""

    def __init__(self, path: Path):
        self.file = pq.ParquetFile(path)
        sizes = [self.file.metadata.row_group(group).num_rows for group in range(self.file.num_row_groups)]
        self.group_starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.group, self.table = -1, None

    def take(self, rows: np.ndarray) -> pa.Table:
        groups = np.searchsorted(self.group_starts, rows, side="right") - 1
        parts = []
        for group in np.unique(groups):
            if group != self.group:
                self.group, self.table = group, self.file.read_row_group(group)
            parts.append(self.table.take(rows[groups == group] - self.group_starts[group]))
        return pa.concat_tables(parts) if parts else self.file.schema_arrow.empty_table()


def gathered(readers: list[RunReader], runs: np.ndarray, rows: np.ndarray) -> pa.Table:
    """The rows (run, row) in the order given, read from each run in turn."""
    parts, positions = [], []
    for number in np.unique(runs):
        chosen = np.flatnonzero(runs == number)
        parts.append(readers[number].take(rows[chosen]))
        positions.append(chosen)
    table = pa.concat_tables(parts)
    return table.take(np.argsort(np.concatenate(positions), kind="stable"))
