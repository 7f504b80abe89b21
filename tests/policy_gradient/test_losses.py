import math

import pytest
import torch

from stages.policy_gradient.losses import dpo_loss, policy_gradient_loss, ppo_clipped_loss, value_loss


def test_policy_gradient_loss_sums_tokens_and_averages_stories():
    logprobs = torch.tensor([[-1.0, -2.0, -9.0], [-0.5, -0.5, -0.5]], requires_grad=True)
    advantages = torch.tensor([[1.0, 1.0, 1.0], [-2.0, -2.0, -2.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    loss = policy_gradient_loss(logprobs, advantages, mask)
    # story 1: -(1*-1 + 1*-2) = 3;  story 2: -(-2 * -1.5) = -3;  mean 0
    assert loss.item() == pytest.approx(0.0)
    loss.backward()
    assert logprobs.grad.tolist() == [[-0.5, -0.5, 0.0], [1.0, 1.0, 1.0]]


def test_ppo_clips_the_ratio_in_the_direction_of_the_advantage():
    old = torch.zeros(1, 2)
    new = torch.log(torch.tensor([[1.5, 0.5]]))
    mask = torch.ones(1, 2)
    loss, clipped = ppo_clipped_loss(new, old, torch.tensor([[1.0, 1.0]]), mask, clip_eps=0.2)
    # positive advantage: min(1.5, 1.2) = 1.2 and min(0.5, 0.8) = 0.5
    assert loss.item() == pytest.approx(-(1.2 + 0.5))
    assert clipped.item() == 1.0
    loss, _ = ppo_clipped_loss(new, old, torch.tensor([[-1.0, -1.0]]), mask, clip_eps=0.2)
    # negative advantage: min(-1.5, -1.2) = -1.5 and min(-0.5, -0.8) = -0.8
    assert loss.item() == pytest.approx(1.5 + 0.8)


def test_ppo_at_ratio_one_has_the_policy_gradient_loss_gradient():
    logprobs = torch.tensor([[-1.0, -2.0]], requires_grad=True)
    advantages = torch.tensor([[0.5, -1.0]])
    loss, _ = ppo_clipped_loss(logprobs, logprobs.detach(), advantages, torch.ones(1, 2), 0.2)
    loss.backward()
    assert logprobs.grad.tolist() == [[-0.5, 1.0]]


def test_value_loss_is_half_mse_over_story_tokens():
    values = torch.tensor([[1.0, 3.0, 100.0]])
    returns = torch.tensor([[0.0, 1.0, 0.0]])
    assert value_loss(values, returns, torch.tensor([[1.0, 1.0, 0.0]])).item() == pytest.approx(0.5 * (1 + 4) / 2)


def test_dpo_loss_by_hand():
    beta = 0.5
    loss = dpo_loss(torch.tensor([-10.0]), torch.tensor([-12.0]), torch.tensor([-11.0]), torch.tensor([-11.0]), beta)
    margin = (-10 + 11) - (-12 + 11)  # 2
    assert loss.item() == pytest.approx(-math.log(1 / (1 + math.exp(-beta * margin))))
    at_reference = dpo_loss(
        torch.tensor([-3.0]), torch.tensor([-4.0]), torch.tensor([-3.0]), torch.tensor([-4.0]), beta
    )
    assert at_reference.item() == pytest.approx(math.log(2))
