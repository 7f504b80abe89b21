"""Which advantage each rl.algo uses, over one rollout: the only place estimators differ.

Every online estimator sees the same rollout (rewards per story, the story-token mask,
per-token KL to the reference) and returns token-level advantages, plus the critic's
targets when it has one. With rl.kl_in: reward the KL penalty is taken out of the
reward here; with kl_in: loss it is a loss term instead (losses.kl_loss).
"""

from dataclasses import dataclass

import torch

from stages.policy_gradient.advantages import (
    final_token_rewards,
    gae_advantage,
    grpo_advantage,
    reinforce_advantage,
    reinforce_pp_advantage,
    rloo_advantage,
    scst_advantage,
    sequence_to_tokens,
)

# Estimators whose advantages come from a critic (a value head on the policy).
CRITIC_ALGOS = ("a2c",)
# REINFORCE++ folds the per-token KL into the reward by definition, whatever rl.kl_in says.
KL_IN_REWARD_ALWAYS = ("reinforce_pp",)


@dataclass(frozen=True)
class RolloutSignals:
    rewards: torch.Tensor  # [rows] normalised reward model scores, samples of a prompt adjacent
    mask: torch.Tensor  # [rows, tokens] 1.0 on story tokens
    kl_tokens: torch.Tensor  # [rows, tokens] per-token KL estimate to the reference (no grad)
    kl_coef: float
    kl_in_reward: bool
    samples_per_prompt: int
    baseline: float | None = None  # reinforce: the moving average of past rewards
    greedy_rewards: torch.Tensor | None = None  # scst: [prompts], the greedy decode's reward
    values: torch.Tensor | None = None  # a2c / ppo-gae: [rows, tokens] the critic's values


def uses_critic(algo: str, ppo_advantage: str) -> bool:
    return algo in CRITIC_ALGOS or (algo == "ppo" and ppo_advantage == "gae")


def folds_kl_into_reward(algo: str, kl_in: str) -> bool:
    return kl_in == "reward" or algo in KL_IN_REWARD_ALWAYS


def sequence_rewards(signals: RolloutSignals) -> torch.Tensor:
    """Each story's reward, less its summed KL when the penalty lives in the reward."""
    if not signals.kl_in_reward:
        return signals.rewards
    return signals.rewards - signals.kl_coef * (signals.kl_tokens * signals.mask).sum(dim=1)


def token_rewards(signals: RolloutSignals) -> torch.Tensor:
    """The reward on each story's last token, less the per-token KL where it lives in the reward."""
    placed = final_token_rewards(signals.rewards, signals.mask)
    if signals.kl_in_reward:
        placed = placed - signals.kl_coef * signals.kl_tokens * signals.mask
    return placed


def by_prompt(values: torch.Tensor, samples_per_prompt: int) -> torch.Tensor:
    return values.reshape(-1, samples_per_prompt)


def advantages_for(
    algo: str, signals: RolloutSignals, *, scale_rewards: str, gae_gamma: float, gae_lambda: float
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Token-level advantages [rows, tokens], and the critic's returns (or None)."""
    mask, k = signals.mask, signals.samples_per_prompt
    if algo in ("a2c", "ppo_gae"):
        return gae_advantage(token_rewards(signals), signals.values.detach(), mask, gae_gamma, gae_lambda)
    if algo == "reinforce_pp":
        return reinforce_pp_advantage(token_rewards(signals), mask), None
    rewards = sequence_rewards(signals)
    if algo == "reinforce":
        baseline = float(rewards.mean()) if signals.baseline is None else signals.baseline
        sequence = reinforce_advantage(rewards, baseline)
    elif algo == "scst":
        sequence = scst_advantage(by_prompt(rewards, k), signals.greedy_rewards).reshape(-1)
    elif algo in ("rloo", "ppo_rloo"):
        sequence = rloo_advantage(by_prompt(rewards, k)).reshape(-1)
    elif algo == "grpo":
        sequence = grpo_advantage(by_prompt(rewards, k), scale_rewards).reshape(-1)
    else:
        raise ValueError(f"no advantage estimator for {algo!r}")
    return sequence_to_tokens(sequence, mask), None
