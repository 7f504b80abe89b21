import pytest
import torch
from torch.testing import assert_close

from stages.policy_gradient.estimators import RolloutSignals, advantages_for, folds_kl_into_reward, uses_critic

MASK = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0]])
KL = torch.tensor([[0.1, 0.2, 0.0], [0.0, 0.0, 0.3], [0.5, 0.0, 0.0], [0.0, 0.1, 0.0]])


def signals(kl_in_reward: bool, **extra) -> RolloutSignals:
    return RolloutSignals(
        rewards=torch.tensor([1.0, 2.0, 0.0, 4.0]),
        mask=MASK,
        kl_tokens=KL,
        kl_coef=0.5,
        kl_in_reward=kl_in_reward,
        samples_per_prompt=2,
        **extra,
    )


def advantages(algo: str, sig: RolloutSignals):
    return advantages_for(algo, sig, scale_rewards="none", gae_gamma=1.0, gae_lambda=1.0)


def test_rloo_spreads_each_storys_advantage_over_its_tokens():
    tokens, returns = advantages("rloo", signals(False))
    # prompts (1, 2) and (0, 4): leave-one-out advantages -1, 1, -4, 4
    assert_close(tokens, torch.tensor([[-1.0, -1.0, 0.0], [1.0, 1.0, 1.0], [-4.0, 0.0, 0.0], [4.0, 4.0, 0.0]]))
    assert returns is None


def test_kl_in_reward_takes_each_storys_summed_kl_out_before_the_baseline():
    tokens, _ = advantages("rloo", signals(True))
    # rewards less 0.5 * summed KL: 0.85, 1.85, -0.25, 3.95
    assert tokens[:, 0].tolist() == pytest.approx([-1.0, 1.0, -4.2, 4.2])


def test_reinforce_uses_the_moving_baseline_or_the_batch_mean_at_first():
    first, _ = advantages("reinforce", signals(False))
    assert first[:, 0].tolist() == pytest.approx([-0.75, 0.25, -1.75, 2.25])
    later, _ = advantages("reinforce", signals(False, baseline=1.0))
    assert later[:, 0].tolist() == pytest.approx([0.0, 1.0, -1.0, 3.0])


def test_scst_compares_each_sample_with_its_prompts_greedy_reward():
    tokens, _ = advantages("scst", signals(False, greedy_rewards=torch.tensor([1.5, 1.0])))
    assert tokens[:, 0].tolist() == pytest.approx([-0.5, 0.5, -1.0, 3.0])


def test_a2c_returns_critic_targets_and_reinforce_pp_always_folds_kl():
    values = torch.zeros(4, 3)
    tokens, returns = advantages("a2c", signals(True, values=values))
    # gamma = lambda = 1, zero values: the advantage is the return-to-go of the token rewards
    assert tokens[0].tolist() == pytest.approx([1.0 - 0.05 - 0.1, 1.0 - 0.1, 0.0])
    assert_close(returns, tokens)
    assert folds_kl_into_reward("reinforce_pp", "loss") and not folds_kl_into_reward("rloo", "loss")
    assert uses_critic("a2c", "rloo") and uses_critic("ppo", "gae") and not uses_critic("ppo", "rloo")
