"""The simulated prompts, drawn in blocks of PROMPTS_PER_BLOCK, several blocks at once.

Why blocks: in one random stream a prompt's draws follow the last prompt's (each story
draws its words one by one), so one stream is drawn by one core. Blocks with streams
of their own can be drawn side by side, one process a core, and in an order of their own:
- block 0 (prompts 0 to PROMPTS_PER_BLOCK - 1) is drawn from the root stream, right
  after the writers' skills, exactly as before blocks existed (simulated_rows.draw_rows,
  a prompt's values one after another, interleaved with its stories' words); every
  simulation of up to PROMPTS_PER_BLOCK prompts (the default has 1,000) is therefore
  the same, to the byte, and the draws after the rows (scores, removals, the second
  scrape) go on from where block 0 left the root stream;
- block k >= 1 is drawn from its own stream, the k-th child of the seed's SeedSequence
  (SeedSequence(seed, spawn_key=(k,))), as arrays (batched_rows.py: the same model,
  about a fifth of the time), so its prompts differ from those the single stream drew
  before blocks existed, but not with the number of processes.
Each block also scores its stories' gold and hashes its authors, so that the parent
only joins the blocks. The workers are spawned (stages/common/worker_pool.py), so a
script that simulates more than one block must guard its main.
"""

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, fields

import numpy as np

from stages.common.config import SimulateConfig
from stages.common.progress import progress_bar
from stages.common.worker_pool import available_cpus, spawned_pool
from stages.simulator.batched_rows import batched_rows
from stages.simulator.gold_batch import batch_gold
from stages.simulator.replayed_draws import ReplayedDraws
from stages.simulator.simulated_rows import AUTHOR_SALT, STORY, draw_rows
from stages.sources.privacy import author_hash
from stages.sources.prompt_tags import prompt_tag

# Fixed, not derived from the machine: it decides which prompts come from which stream.
# Small enough for a million comments (110,000 prompts) to spread evenly over a few cores.
PROMPTS_PER_BLOCK = 5_000


@dataclass
class DrawnBlock:
    """A block's rows as the frames need them, in the order written."""

    titles: list[str]
    tags: list[str]
    created: list[int]
    popularity: np.ndarray
    submission_scores: list[int]
    prompter_hashes: list[str | None]
    kind: np.ndarray  # STICKY, STORY or REPLY
    prompt_of: np.ndarray  # the submission's index, over all blocks
    body: list[str]
    comment_created: list[int]
    author_hashes: list[str | None]
    delay_s: np.ndarray  # stories only
    gold: np.ndarray  # stories only


def block_prompts(n_prompts: int, prompts_per_block: int) -> list[range]:
    return [range(first, min(first + prompts_per_block, n_prompts)) for first in range(0, n_prompts, prompts_per_block)]


def block_generator(seed: int, block: int) -> np.random.Generator:
    """Block k's own stream (k >= 1): the k-th child of the seed's SeedSequence."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(block,)))


def hashes(names: list[str]) -> list[str | None]:
    hash_of = {name: author_hash(name, AUTHOR_SALT) for name in set(names)}
    return [hash_of[name] for name in names]


def drawn_block(
    config: SimulateConfig, skills: np.ndarray, block: int, prompts: range, root_state: dict | None
) -> tuple[DrawnBlock, dict | None]:
    """Block `block`'s rows, and for block 0 (drawn from the root stream, at root_state)
    the root stream's state after them."""
    if block == 0:  # the root stream, drawn in its order
        rng = np.random.Generator(np.random.PCG64())
        rng.bit_generator.state = root_state
        draws = ReplayedDraws(rng)
        rows = draw_rows(config, draws, skills, prompts)
        state_after = draws.hand_back().bit_generator.state
    else:  # a stream of its own, drawn as arrays
        rows, state_after = batched_rows(config, block_generator(config.seed, block), skills, prompts), None
    kind, prompt_of = np.array(rows.kind, dtype=np.int64), np.array(rows.prompt_of, dtype=np.int64)
    stories = np.flatnonzero(kind == STORY)
    titles = np.array(rows.titles, dtype=object)
    return DrawnBlock(
        titles=rows.titles,
        tags=[prompt_tag(title) for title in rows.titles],
        created=rows.created,
        popularity=np.array(rows.popularity),
        submission_scores=rows.submission_scores,
        prompter_hashes=hashes(rows.prompters),
        kind=kind,
        prompt_of=prompt_of,
        body=rows.body,
        comment_created=rows.comment_created,
        author_hashes=hashes(rows.author),
        delay_s=np.array(rows.delay_s),
        gold=batch_gold(titles[prompt_of[stories] - prompts.start], [rows.body[row] for row in stories]),
    ), state_after


def drawn_block_task(task: tuple) -> tuple[DrawnBlock, dict | None]:
    return drawn_block(*task)


def worker_pool(processes: int) -> AbstractContextManager:
    """Workers for the blocks, or none for one: the default's one block is drawn here."""
    return nullcontext() if processes == 1 else spawned_pool(processes)


def drawn_blocks(
    config: SimulateConfig,
    rng: np.random.Generator,
    skills: np.ndarray,
    prompts_per_block: int = PROMPTS_PER_BLOCK,
    workers: int | None = None,
) -> DrawnBlock:
    """Every prompt's rows, block by block, in min(workers, blocks) processes (workers:
    the CPUs this process may use); rng, the root stream, ends where block 0 left it."""
    blocks = block_prompts(config.n_prompts, prompts_per_block)
    tasks = [
        (config, skills, block, prompts, rng.bit_generator.state if block == 0 else None)
        for block, prompts in enumerate(blocks)
    ]
    results = []
    with (
        progress_bar(total=config.n_prompts, desc="simulate prompts", unit="prompt") as bar,
        worker_pool(min(workers or available_cpus(), len(blocks))) as pool,
    ):
        for result in pool.imap(drawn_block_task, tasks) if pool else map(drawn_block_task, tasks):
            results.append(result)
            bar.update(len(result[0].titles))
    rng.bit_generator.state = results[0][1]
    return joined([block for block, _ in results])


def joined(blocks: list[DrawnBlock]) -> DrawnBlock:
    columns = {}
    for column in fields(DrawnBlock):
        parts = [getattr(block, column.name) for block in blocks]
        columns[column.name] = (
            np.concatenate(parts) if isinstance(parts[0], np.ndarray) else [item for part in parts for item in part]
        )
    return DrawnBlock(**columns)
