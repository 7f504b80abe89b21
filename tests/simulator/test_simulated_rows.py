import math
from functools import cache

import numpy as np

from stages.common.config import SimulateConfig
from stages.simulator.simulated_rows import (
    AUTOMOD_BODY,
    REPLIES,
    REPLY,
    STICKY,
    STORY,
    BlockRows,
    block_rows,
    canned_replies,
)

CONFIG = SimulateConfig(n_prompts=3000, n_writers=200)
PROMPTS = range(1000, 4000)  # a block past the first: its prompts' indices start at 1000


@cache
def rows() -> BlockRows:
    skills = np.random.default_rng(0).beta(2.0, 2.0, size=CONFIG.n_writers)
    return block_rows(CONFIG, np.random.default_rng(1), skills, PROMPTS)


def within(value: float, n: int, expected: float, sd: float) -> bool:
    """A mean (or share) of n draws is its expectation up to 4 standard errors."""
    return abs(value - expected) < 4 * sd / math.sqrt(n)


def test_a_prompts_rows_are_its_sticky_then_each_story_followed_by_its_replies():
    block = rows()
    kind, prompt_of = block.kind, block.prompt_of
    assert (np.diff(prompt_of) >= 0).all() and np.unique(prompt_of).tolist() == list(PROMPTS)
    starts = np.flatnonzero(np.diff(prompt_of, prepend=-1))
    assert (kind[starts] == STICKY).all() and (kind == STICKY).sum() == len(PROMPTS)
    assert (kind[starts + 1] == STORY).all()
    assert (kind[np.flatnonzero(kind == REPLY) - 1] != STICKY).all()
    created = block.created[prompt_of - PROMPTS.start]
    assert (block.comment_created[starts] == block.created + 1).all()
    stories = kind == STORY
    assert (block.comment_created[stories] == created[stories] + block.delay_s.astype(np.int64)).all()
    # A reply comes a minute to two hours after the story before it.
    last_story = np.maximum.accumulate(np.where(stories, np.arange(len(kind)), 0))
    replies = np.flatnonzero(kind == REPLY)
    waited = block.comment_created[replies] - block.comment_created[last_story[replies]]
    assert waited.min() >= 60 and waited.max() < 7200
    assert {block.body[row] for row in replies} <= set(REPLIES)
    assert {block.body[row] for row in starts} == {AUTOMOD_BODY}
    assert len(block.gold) == len(block.delay_s) == stories.sum()


def test_prompts_and_stories_follow_the_models_parameters():
    block = rows()
    n = len(PROMPTS)
    stories = np.bincount(block.prompt_of[block.kind == STORY] - PROMPTS.start, minlength=n)
    one_story = stories == 1  # a prompt of several stories has at least two
    share = CONFIG.one_story_share
    assert within(one_story.mean(), n, share, math.sqrt(share * (1 - share)))
    # 2 + Poisson(stories_per_prompt - 2): its mean is stories_per_prompt and its variance the Poisson's.
    several = stories[~one_story]
    assert within(several.mean(), len(several), CONFIG.stories_per_prompt, math.sqrt(CONFIG.stories_per_prompt - 2))
    # log-normal delays: the log's mean is the median's log; popularity: the log's sd is sigma.
    delays = np.log(block.delay_s)
    assert within(delays.mean(), len(delays), math.log(CONFIG.delay_median_h * 3600), CONFIG.delay_sigma)
    popularity = np.log(block.popularity)
    sigma = CONFIG.popularity_sigma
    assert within(popularity.std(), n, sigma, sigma / math.sqrt(2))
    assert within(popularity.mean(), n, 0.0, sigma)
    replied, share = (block.kind == REPLY).sum() / len(delays), CONFIG.reply_share
    assert within(replied, len(delays), share, math.sqrt(share * (1 - share)))


def test_canned_replies_answer_their_share_of_the_stories():
    created = np.arange(10_000) * 100
    for share in (0.0, 0.3, 1.0):
        replies = canned_replies(np.random.default_rng(2), share, created)
        assert (np.diff(replies.story) > 0).all()  # at most one a story, in the stories' order
        assert within(len(replies.story) / len(created), len(created), share, math.sqrt(share * (1 - share)) + 1e-9)
        assert len(replies.body) == len(replies.created) == len(replies.author) == len(replies.story)
        waited = replies.created - created[replies.story]
        assert (waited >= 60).all() and (waited < 7200).all()
