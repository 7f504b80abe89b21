import math

import pytest
import torch

from stages.modeling.reward_losses import bradley_terry_loss, expected_tier_value, plackett_luce_loss, tier_loss


def log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x))


def test_bradley_terry_by_hand():
    loss = bradley_terry_loss(torch.tensor([2.0, 0.0]), torch.tensor([1.0, 0.0]))
    assert loss.item() == pytest.approx(-(log_sigmoid(1.0) + log_sigmoid(0.0)) / 2)


def test_a_margin_asks_for_a_larger_gap():
    loss = bradley_terry_loss(torch.tensor([2.0]), torch.tensor([1.0]), margin=torch.tensor([0.5]))
    assert loss.item() == pytest.approx(-log_sigmoid(0.5))
    assert loss.item() > bradley_terry_loss(torch.tensor([2.0]), torch.tensor([1.0])).item()


def test_plackett_luce_by_hand_for_three_items():
    scores = torch.tensor([[2.0, 1.0, 0.0]])
    first = math.log(math.exp(2) + math.exp(1) + math.exp(0)) - 2.0
    second = math.log(math.exp(1) + math.exp(0)) - 1.0
    assert plackett_luce_loss(scores, torch.ones(1, 3, dtype=torch.bool)).item() == pytest.approx(first + second)


def test_plackett_luce_of_two_items_is_bradley_terry():
    chosen, rejected = torch.tensor([1.3, -0.2, 0.7]), torch.tensor([0.4, 0.9, 0.7])
    listwise = plackett_luce_loss(torch.stack([chosen, rejected], dim=1), torch.ones(3, 2, dtype=torch.bool))
    assert listwise.item() == pytest.approx(bradley_terry_loss(chosen, rejected).item())


def test_plackett_luce_padding_changes_nothing_and_keeps_gradients_finite():
    scores = torch.tensor([[0.5, 0.1, -0.3], [1.0, -1.0, 0.0]], requires_grad=True)
    mask = torch.tensor([[True, True, True], [True, True, False]])
    loss = plackett_luce_loss(scores, mask)
    alone = plackett_luce_loss(torch.tensor([[0.5, 0.1, -0.3]]), torch.ones(1, 3, dtype=torch.bool))
    pair = plackett_luce_loss(torch.tensor([[1.0, -1.0]]), torch.ones(1, 2, dtype=torch.bool))
    assert loss.item() == pytest.approx((alone.item() + pair.item()) / 2)
    loss.backward()
    assert torch.isfinite(scores.grad).all()
    assert scores.grad[1, 2].item() == 0.0


def test_tier_loss_and_expected_value_by_hand():
    logits = torch.tensor([[0.0, 0.0, math.log(2.0)]])  # probabilities 1/4, 1/4, 1/2
    assert tier_loss(logits, torch.tensor([2])).item() == pytest.approx(-math.log(0.5))
    assert expected_tier_value(logits, torch.tensor([-1.0, 0.0, 1.0])).item() == pytest.approx(0.25)
