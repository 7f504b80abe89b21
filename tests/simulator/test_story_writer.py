import numpy as np
import pytest
from reference_grammar import reference_story

from stages.simulator import replayed_draws, story_writer
from stages.simulator.replayed_draws import ReplayedDraws
from stages.simulator.story_writer import write_story
from stages.simulator.vocabulary import THEMES

# Skills at the edges of the grammar: 0 (no clauses: binomial draws nothing), just past
# 5/6 (clause chance above 0.5: binomial counts failures), 1 (no repeats, no noise).
EDGE_SKILLS = [0.0, 1.0, 0.84, 0.9, 0.5]


def stories(write, seed: int, n: int) -> tuple[list[str], dict]:
    """n stories by writers of every skill, then the state of the generator handed back."""
    rng = np.random.default_rng(seed)
    rng.integers(7)  # start with a 32-bit half kept
    draws = ReplayedDraws(rng)
    texts = []
    for index in range(n):
        skill = EDGE_SKILLS[index] if index < len(EDGE_SKILLS) else draws.random()
        texts.append(write(draws, THEMES[index % len(THEMES)], skill))
        draws.integers(3)  # a draw between stories, as the simulator makes
    return texts, draws.hand_back().bit_generator.state


@pytest.mark.parametrize("seed", [0, 1])
def test_stories_equal_the_grammar_drawn_call_by_call_and_leave_the_stream_where_it_did(seed):
    written, state = stories(write_story, seed, 3000)
    expected, expected_state = stories(reference_story, seed, 3000)
    assert written == expected
    assert state == expected_state


def test_a_story_that_runs_past_its_window_is_written_again_from_a_larger_one(monkeypatch):
    expected, expected_state = stories(reference_story, 2, 300)
    monkeypatch.setattr(replayed_draws, "RAWS_PER_REFILL", 64)  # refills between and inside stories
    monkeypatch.setattr(story_writer, "STORY_RAWS", 4)  # most stories need more
    written, state = stories(write_story, 2, 300)
    assert written == expected
    assert state == expected_state
