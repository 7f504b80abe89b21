import math

import pytest
import torch

from stages.modeling.lm_loss import perplexity, story_nll, unigram_perplexity
from stages.modeling.story_format import IGNORE_INDEX


def test_story_nll_by_hand():
    # Two-token vocabulary; position 0 predicts token 1 (a story token), position 1 predicts padding.
    logits = torch.tensor([[[0.0, 0.0], [5.0, -5.0], [9.0, 9.0]]])
    labels = torch.tensor([[IGNORE_INDEX, 1, IGNORE_INDEX]])
    nll, count = story_nll(logits, labels)
    assert count.item() == 1
    assert nll.item() == pytest.approx(math.log(2.0))  # uniform logits at position 0


def test_story_nll_ignores_prompt_and_padding_positions():
    torch.manual_seed(0)
    logits = torch.randn(2, 6, 7)
    labels = torch.tensor(
        [
            [IGNORE_INDEX, IGNORE_INDEX, 3, 4, 5, IGNORE_INDEX],
            [IGNORE_INDEX, 1, 2, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX],
        ]
    )
    changed = logits.clone()
    # Positions whose next token is prompt or padding: whatever they predict must not count.
    for row, position in [(0, 0), (0, 4), (0, 5), (1, 2), (1, 3), (1, 4), (1, 5)]:
        changed[row, position] = torch.randn(7) * 10.0
    assert torch.allclose(story_nll(logits, labels)[0], story_nll(changed, labels)[0])
    assert story_nll(logits, labels)[1].item() == 5
    changed[0, 1, 3] += 10.0  # position 1 predicts token 3, a story token: this one counts
    assert not torch.allclose(story_nll(logits, labels)[0], story_nll(changed, labels)[0])


def test_perplexity_is_exp_of_mean_nll():
    assert perplexity(2 * math.log(4.0), 2) == pytest.approx(4.0)
    assert math.isnan(perplexity(0.0, 0))


def test_unigram_perplexity_by_hand():
    # Vocabulary of 3; train counts (2, 1, 0) with add-one smoothing: p = (3/6, 2/6, 1/6).
    value = unigram_perplexity([[0, 0, 1]], [[0, 2]], vocab_size=3)
    assert value == pytest.approx(math.exp(-(math.log(3 / 6) + math.log(1 / 6)) / 2))
