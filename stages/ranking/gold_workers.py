"""Gold of the ranked stories, scored in worker processes beside the rank stage's own work.

Gold only feeds rank's metrics (only the simulator knows it), yet it is half the stage's
work at a million comments. The workers import this module and gold's, nothing of the
ranking: what they import at start-up competes for the cores with the stage's first steps.
"""

import itertools
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from stages.simulator.gold_batch import batch_gold

GOLD_MODULE = __name__  # what the workers import as they start


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
