import numpy as np
import pandas as pd

from stages.common.config import SimulateConfig
from stages.simulator.prompt_blocks import block_prompts, drawn_blocks
from stages.simulator.simulated_rows import STORY
from stages.simulator.simulator import simulate_subreddit

SMALL = SimulateConfig(n_prompts=120, n_writers=50)


def test_the_frames_are_the_same_whatever_the_number_of_workers():
    alone = simulate_subreddit(SMALL, "WritingPrompts", prompts_per_block=40, workers=1)
    shared = simulate_subreddit(SMALL, "WritingPrompts", prompts_per_block=40, workers=2)
    for one, two in zip(alone, shared, strict=True):
        pd.testing.assert_frame_equal(one, two)


def rows_and_state(config: SimulateConfig, prompts_per_block: int):
    rng = np.random.default_rng(config.seed)
    skills = rng.beta(2.0, 2.0, size=config.n_writers)
    rows = drawn_blocks(config, rng, skills, prompts_per_block, workers=1)
    return rows, rng.bit_generator.state


def test_block_0_is_the_single_stream_and_the_root_stream_goes_on_from_its_end():
    blocked, blocked_state = rows_and_state(SMALL, prompts_per_block=40)
    single, _ = rows_and_state(SMALL, prompts_per_block=10**6)
    _first_block, first_block_state = rows_and_state(
        SMALL.model_copy(update={"n_prompts": 40}), prompts_per_block=10**6
    )
    block_0_comments = int((blocked.prompt_of < 40).sum())
    block_0_stories = int((blocked.kind[:block_0_comments] == STORY).sum())
    assert blocked.titles[:40] == single.titles[:40]
    assert blocked.body[:block_0_comments] == single.body[:block_0_comments]
    np.testing.assert_array_equal(blocked.gold[:block_0_stories], single.gold[:block_0_stories])
    assert blocked_state == first_block_state  # the scores and removals draw from here
    # Later blocks draw from streams of their own, so their prompts are new ones.
    assert blocked.titles[40:] != single.titles[40:]
    assert blocked.titles[40:80] != blocked.titles[80:]


def test_blocks_cover_every_prompt_once_in_order():
    assert block_prompts(12, 5) == [range(0, 5), range(5, 10), range(10, 12)]
    assert block_prompts(5, 5) == [range(0, 5)]
