import pytest
import torch
from torch.testing import assert_close

from stages.policy_gradient.advantages import (
    ema_baseline,
    final_token_rewards,
    gae_advantage,
    grpo_advantage,
    masked_whiten,
    reinforce_advantage,
    reinforce_pp_advantage,
    returns_to_go,
    rloo_advantage,
    scst_advantage,
    sequence_to_tokens,
)


def test_reinforce_subtracts_the_baseline_and_the_ema_moves_towards_each_batch():
    assert reinforce_advantage(torch.tensor([1.0, 3.0]), 1.5).tolist() == [-0.5, 1.5]
    assert ema_baseline(None, torch.tensor([1.0, 3.0]), 0.9) == 2.0  # first batch: its mean
    assert ema_baseline(2.0, torch.tensor([4.0, 6.0]), 0.9) == pytest.approx(0.9 * 2.0 + 0.1 * 5.0)


def test_scst_subtracts_the_greedy_reward_of_the_same_prompt():
    rewards = torch.tensor([[1.0, 2.0], [0.0, -1.0]])
    greedy = torch.tensor([1.5, -0.5])
    assert scst_advantage(rewards, greedy).tolist() == [[-0.5, 0.5], [0.5, -0.5]]


def test_rloo_subtracts_the_mean_of_the_other_samples():
    rewards = torch.tensor([[1.0, 2.0, 6.0]])
    # 1 - (2+6)/2 = -3;  2 - (1+6)/2 = -1.5;  6 - (1+2)/2 = 4.5
    assert rloo_advantage(rewards).tolist() == [[-3.0, -1.5, 4.5]]
    with pytest.raises(ValueError, match="at least 2 samples"):
        rloo_advantage(torch.tensor([[1.0], [2.0]]))


def test_grpo_scales_by_group_std_batch_std_or_nothing():
    rewards = torch.tensor([[1.0, 3.0], [10.0, 10.0]])
    group = grpo_advantage(rewards, "group")
    std = torch.tensor([1.0, 3.0]).std().item()  # sqrt(2), unbiased
    assert group[0].tolist() == pytest.approx([-1 / (std + 1e-4), 1 / (std + 1e-4)])
    assert group[1].tolist() == [0.0, 0.0]  # a group that scored alike teaches nothing
    assert grpo_advantage(rewards, "none").tolist() == [[-1.0, 1.0], [0.0, 0.0]]
    batch_std = rewards.std().item()
    assert grpo_advantage(rewards, "batch")[0, 1].item() == pytest.approx(1 / (batch_std + 1e-4))


def test_returns_to_go_sum_later_rewards_within_the_mask():
    rewards = torch.tensor([[1.0, 2.0, 3.0, 9.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    assert returns_to_go(rewards, mask).tolist() == [[6.0, 5.0, 3.0, 0.0]]
    assert_close(returns_to_go(rewards, mask, gamma=0.5), torch.tensor([[1 + 0.5 * (2 + 0.5 * 3), 2 + 1.5, 3.0, 0.0]]))


def test_reinforce_pp_whitens_returns_over_the_whole_batch():
    rewards = torch.tensor([[0.0, 1.0], [0.0, 3.0]])
    mask = torch.ones(2, 2)
    advantages = reinforce_pp_advantage(rewards, mask)
    # returns [[1, 1], [3, 3]]: mean 2, population std 1
    assert_close(advantages, torch.tensor([[-1 / (1 + 1e-4)] * 2, [1 / (1 + 1e-4)] * 2]))
    assert masked_whiten(torch.tensor([[5.0, 7.0]]), torch.tensor([[1.0, 0.0]])).tolist()[0][1] == 0.0


def test_gae_matches_hand_computation():
    rewards = torch.tensor([[0.0, 0.0, 1.0]])
    values = torch.tensor([[0.5, 0.25, 0.75]])
    mask = torch.ones(1, 3)
    gamma, lam = 1.0, 0.5
    d2 = 1.0 - 0.75
    d1 = 0.0 + 0.75 - 0.25
    d0 = 0.0 + 0.25 - 0.5
    a2, a1 = d2, d1 + lam * d2
    a0 = d0 + lam * a1
    advantages, returns = gae_advantage(rewards, values, mask, gamma, lam)
    assert_close(advantages, torch.tensor([[a0, a1, a2]]))
    assert_close(returns, torch.tensor([[a0 + 0.5, a1 + 0.25, a2 + 0.75]]))


def test_gae_with_lambda_one_is_the_return_minus_the_value():
    rewards = torch.tensor([[0.2, 0.0, 1.0, 0.0]])
    values = torch.tensor([[0.1, 0.4, 0.3, 0.9]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    advantages, _ = gae_advantage(rewards, values, mask, 1.0, 1.0)
    expected = (returns_to_go(rewards, mask) - values) * mask
    assert_close(advantages, expected)


def test_sequence_values_spread_over_tokens_and_rewards_land_on_the_last_token():
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    assert sequence_to_tokens(torch.tensor([2.0, -1.0]), mask).tolist() == [[2.0, 2.0, 0.0], [-1.0, 0.0, 0.0]]
    assert final_token_rewards(torch.tensor([2.0, -1.0]), mask).tolist() == [[0.0, 2.0, 0.0], [-1.0, 0.0, 0.0]]
