from dataclasses import asdict

import numpy as np
from reference_grammar import reference_sentences

from stages.common.config import SimulateConfig
from stages.simulator import batched_rows
from stages.simulator.batched_rows import story_texts
from stages.simulator.gold_batch import batch_gold
from stages.simulator.prompt_blocks import block_generator
from stages.simulator.replayed_draws import ReplayedDraws
from stages.simulator.simulated_rows import REPLY, STICKY, STORY, draw_rows
from stages.simulator.story_kernel import MAX_STORY_BYTES
from stages.simulator.story_writer import WritingStyle, style_shares
from stages.simulator.vocabulary import THEMES

CONFIG = SimulateConfig(n_prompts=4000, n_writers=200)


def story_styles(seed: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Themes, skills (the edges 0, 1 and just past 5/6 among them) and sentence counts."""
    rng = np.random.default_rng(seed)
    skill = np.concatenate([[0.0, 1.0, 0.84, 0.9], rng.random(n - 4)])
    return rng.integers(len(THEMES), size=n), skill, rng.integers(1, 31, size=n)


def test_each_story_is_the_grammar_drawn_call_by_call_from_the_same_raws():
    theme, skill, n_sentences = story_styles(0, 2000)
    written = story_texts(np.random.default_rng(7), theme, skill, n_sentences)
    draws = ReplayedDraws(np.random.default_rng(7))
    expected = [
        reference_sentences(draws, WritingStyle(theme=THEMES[t], n_sentences=int(n), **asdict(style_shares(float(s)))))
        for t, s, n in zip(theme, skill, n_sentences, strict=True)
    ]
    assert written == expected


def test_the_stories_do_not_depend_on_how_the_raws_and_bytes_are_chunked(monkeypatch):
    theme, skill, n_sentences = story_styles(1, 500)
    expected = story_texts(np.random.default_rng(3), theme, skill, n_sentences)
    monkeypatch.setattr(batched_rows, "RAWS_PER_CHUNK", 64)  # refills between stories
    monkeypatch.setattr(batched_rows, "STORY_BYTES_PER_CHUNK", MAX_STORY_BYTES)  # a story per buffer
    monkeypatch.setattr(batched_rows, "STORY_RAWS", 8)  # most stories run past their margin: written again
    assert story_texts(np.random.default_rng(3), theme, skill, n_sentences) == expected


def rows_by_prompt(rows) -> list[list[int]]:
    prompts: dict[int, list[int]] = {}
    for row, prompt in enumerate(rows.prompt_of):
        prompts.setdefault(prompt, []).append(row)
    return list(prompts.values())


def test_a_batched_block_orders_its_rows_as_the_sequential_layout_does():
    prompts = range(4000, 4300)
    rows = batched_rows.batched_rows(
        CONFIG, block_generator(CONFIG.seed, 1), np.random.default_rng(0).random(200), prompts
    )
    groups = rows_by_prompt(rows)
    assert [rows.prompt_of[group[0]] for group in groups] == list(prompts)  # prompts in order, rows contiguous
    assert all(group == list(range(group[0], group[-1] + 1)) for group in groups)
    for index, group in enumerate(groups):
        kinds = [rows.kind[row] for row in group]
        assert kinds[0] == STICKY and STICKY not in kinds[1:] and kinds[1] == STORY
        assert all(
            kinds[at - 1] == STORY for at, kind in enumerate(kinds) if kind == REPLY
        )  # a reply follows its story
        assert rows.comment_created[group[0]] == rows.created[index] + 1
        for row in group[1:]:  # a story comes after its prompt, a reply after its story
            after = rows.comment_created[row - 1] if rows.kind[row] == REPLY else rows.created[index]
            assert rows.comment_created[row] >= after
    assert len(rows.delay_s) == rows.kind.count(STORY)
    assert all(
        author.startswith("writer_") for author, kind in zip(rows.author, rows.kind, strict=True) if kind == STORY
    )


def summary(rows) -> dict[str, np.ndarray]:
    """Per prompt or per story, the figures both layouts must draw alike."""
    kind, prompt = np.array(rows.kind), np.array(rows.prompt_of) - rows.prompt_of[0]
    stories = np.flatnonzero(kind == STORY)
    bodies = [rows.body[row] for row in stories]
    titles = np.array(rows.titles, dtype=object)[prompt[stories]]
    return {
        "stories per prompt": np.bincount(prompt[stories], minlength=len(rows.titles)).astype(float),
        "replied": np.isin(stories + 1, np.flatnonzero(kind == REPLY)).astype(float),
        "words": np.array([len(body.split()) for body in bodies], dtype=float),
        "sentences": np.array([body.count(".") for body in bodies], dtype=float),
        "log delay": np.log(np.array(rows.delay_s)),
        "log popularity": np.log(np.array(rows.popularity)),
        "submission score": np.array(rows.submission_scores, dtype=float),
        "gold": batch_gold(list(titles), bodies),
    }


def test_the_batched_layout_draws_the_model_of_the_sequential_one():
    skills = np.random.default_rng(CONFIG.seed).beta(2.0, 2.0, size=CONFIG.n_writers)
    sequential = draw_rows(CONFIG, ReplayedDraws(np.random.default_rng(5)), skills, range(0, 2000))
    batched = batched_rows.batched_rows(CONFIG, block_generator(CONFIG.seed, 1), skills, range(2000, 4000))
    one, two = summary(sequential), summary(batched)
    for figure in one:
        a, b = one[figure], two[figure]
        standard_error = np.sqrt(a.var() / len(a) + b.var() / len(b))
        assert abs(a.mean() - b.mean()) < 4 * standard_error, (figure, a.mean(), b.mean(), standard_error)
