"""The simulated prompts, drawn in blocks of PROMPTS_PER_BLOCK, several blocks at once.

Block k draws from a stream of its own, the k-th child of the seed's SeedSequence
(SeedSequence(seed, spawn_key=(k,))), so blocks can be drawn side by side, one process
a core, and the frames are the same for any number of processes. The workers are
spawned (stages/common/worker_pool.py), so a script that simulates more than one block
must guard its main; a single block (the default's 1,000 prompts) is drawn in-process.
"""

from contextlib import AbstractContextManager, nullcontext
from dataclasses import fields

import numpy as np

from stages.common.config import SimulateConfig
from stages.common.progress import progress_bar
from stages.common.worker_pool import available_cpus, spawned_pool
from stages.simulator.simulated_rows import BlockRows, block_rows

# Fixed, not derived from the machine: it decides which prompts come from which stream.
# Small enough for a million comments (110,000 prompts) to spread evenly over a few cores.
PROMPTS_PER_BLOCK = 5_000


def block_prompts(n_prompts: int, prompts_per_block: int) -> list[range]:
    return [range(first, min(first + prompts_per_block, n_prompts)) for first in range(0, n_prompts, prompts_per_block)]


def block_generator(seed: int, block: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(block,)))


def drawn_block(task: tuple[SimulateConfig, np.ndarray, int, range]) -> BlockRows:
    config, skills, block, prompts = task
    return block_rows(config, block_generator(config.seed, block), skills, prompts)


def worker_pool(processes: int) -> AbstractContextManager:
    """Workers for the blocks, or none for one: a single block is drawn here."""
    return nullcontext() if processes == 1 else spawned_pool(processes)


def drawn_blocks(
    config: SimulateConfig, skills: np.ndarray, prompts_per_block: int = PROMPTS_PER_BLOCK, workers: int | None = None
) -> BlockRows:
    """Every prompt's rows, block by block, in min(workers, blocks) processes (workers:
    the CPUs this process may use)."""
    blocks = block_prompts(config.n_prompts, prompts_per_block)
    tasks = [(config, skills, block, prompts) for block, prompts in enumerate(blocks)]
    results = []
    with (
        progress_bar(total=config.n_prompts, desc="simulate prompts", unit="prompt") as bar,
        worker_pool(min(workers or available_cpus(), len(blocks))) as pool,
    ):
        for rows in pool.imap(drawn_block, tasks) if pool else map(drawn_block, tasks):
            results.append(rows)
            bar.update(len(rows.titles))
    return joined(results)


def joined(blocks: list[BlockRows]) -> BlockRows:
    columns = {}
    for column in fields(BlockRows):
        parts = [getattr(block, column.name) for block in blocks]
        columns[column.name] = (
            np.concatenate(parts) if isinstance(parts[0], np.ndarray) else [item for part in parts for item in part]
        )
    return BlockRows(**columns)
