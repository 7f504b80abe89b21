"""Reward-model objectives as pure functions of scores.

- tier: cross-entropy of a good/ok/bad classifier, as in the original ambient
  feedback work; its reward is the expected tier value.
- pairwise: Bradley-Terry, -log sigmoid(r_chosen - r_rejected - margin); a margin
  asks for a larger gap where the adjusted rankings differ more (as in Llama 2).
- listwise: Plackett-Luce over all stories of a prompt in adjusted order; with two
  stories it is exactly Bradley-Terry.
"""

import torch
import torch.nn.functional as F

# Stands in for -inf in padded list positions: -inf would turn logcumsumexp's
# gradient into NaN (0 * inf) even where the loss masks the term out.
MASKED_SCORE = -1e9


def bradley_terry_loss(
    r_chosen: torch.Tensor, r_rejected: torch.Tensor, margin: torch.Tensor | None = None
) -> torch.Tensor:
    difference = r_chosen - r_rejected
    if margin is not None:
        difference = difference - margin
    return -F.logsigmoid(difference).mean()


def plackett_luce_loss(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over lists of -log P(observed order).

    scores[g, i] is the score of the i-th best item of list g; mask marks real items
    (lists are padded at the end). -log P = sum_i [log sum_{j>=i} exp(s_j) - s_i].
    """
    masked = scores.masked_fill(~mask, MASKED_SCORE)
    log_tail_mass = torch.logcumsumexp(masked.flip(-1), dim=-1).flip(-1)
    terms = (log_tail_mass - scores).masked_fill(~mask, 0.0)
    return terms.sum(-1).mean()


def tier_loss(logits: torch.Tensor, tiers: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, tiers)


def expected_tier_value(logits: torch.Tensor, tier_values: torch.Tensor) -> torch.Tensor:
    """The classifier's reward: sum over tiers of P(tier) * value(tier)."""
    return torch.softmax(logits.float(), dim=-1) @ tier_values.to(logits.device, torch.float32)
