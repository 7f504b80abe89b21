import numpy as np
import pandas as pd

from stages.common.config import SimulateConfig
from stages.simulator.prompt_blocks import block_generator, block_prompts, drawn_blocks
from stages.simulator.simulated_rows import block_rows
from stages.simulator.simulator import simulate_subreddit

SMALL = SimulateConfig(n_prompts=120, n_writers=50)
SKILLS = np.random.default_rng(0).random(SMALL.n_writers)


def test_blocks_cover_every_prompt_once_in_order():
    assert block_prompts(12, 5) == [range(0, 5), range(5, 10), range(10, 12)]
    assert block_prompts(5, 5) == [range(0, 5)]


def test_the_frames_are_the_same_whatever_the_number_of_workers():
    alone = simulate_subreddit(SMALL, "WritingPrompts", prompts_per_block=40, workers=1)
    shared = simulate_subreddit(SMALL, "WritingPrompts", prompts_per_block=40, workers=2)
    for one, two in zip(alone, shared, strict=True):
        pd.testing.assert_frame_equal(one, two)


def test_each_block_is_drawn_from_its_own_stream_alone():
    rows = drawn_blocks(SMALL, SKILLS, prompts_per_block=40, workers=1)
    second = block_rows(SMALL, block_generator(SMALL.seed, 1), SKILLS, range(40, 80))
    in_second = (rows.prompt_of >= 40) & (rows.prompt_of < 80)
    assert rows.titles[40:80] == second.titles
    assert [body for body, inside in zip(rows.body, in_second, strict=True) if inside] == second.body
    np.testing.assert_array_equal(rows.comment_created[in_second], second.comment_created)
    # Fewer prompts leave the blocks before them as they were; other blocks are other prompts.
    fewer = drawn_blocks(SMALL.model_copy(update={"n_prompts": 80}), SKILLS, prompts_per_block=40, workers=1)
    assert fewer.titles == rows.titles[:80] and fewer.body == rows.body[: len(fewer.body)]
    assert rows.titles[:40] != rows.titles[40:80]
