"""Advantage estimators: how much better a sampled story was than expected.

Each is one pure function over tensors. Sequence-level estimators take rewards shaped
[prompts, samples] (the samples of a prompt in a row) and return the same shape; the
token-level ones take [rows, tokens] with a mask of the story tokens.
"""

import torch

# GRPO divides by a group's std; a group whose samples all scored alike has none.
STD_EPS = 1e-4


def ema_baseline(baseline: float | None, rewards: torch.Tensor, decay: float) -> float:
    """The moving average REINFORCE subtracts, updated with this batch's mean reward."""
    mean = float(rewards.mean())
    return mean if baseline is None else decay * baseline + (1.0 - decay) * mean


def reinforce_advantage(rewards: torch.Tensor, baseline: float) -> torch.Tensor:
    """Williams (1992): reward minus a baseline that does not depend on the sample."""
    return rewards - baseline


def scst_advantage(rewards: torch.Tensor, greedy_rewards: torch.Tensor) -> torch.Tensor:
    """Self-critical sequence training (Rennie et al. 2017): reward minus the reward of the
    greedy decode of the same prompt. rewards [prompts, samples], greedy_rewards [prompts]."""
    return rewards - greedy_rewards.unsqueeze(1)


def rloo_advantage(rewards: torch.Tensor) -> torch.Tensor:
    """REINFORCE leave-one-out (Kool et al. 2019; Ahmadian et al. 2024): reward minus the
    mean reward of the other samples of the same prompt. Needs 2+ samples a prompt."""
    samples = rewards.size(1)
    if samples < 2:
        raise ValueError("RLOO needs at least 2 samples per prompt")
    others_mean = (rewards.sum(dim=1, keepdim=True) - rewards) / (samples - 1)
    return rewards - others_mean


def grpo_advantage(rewards: torch.Tensor, scale_rewards: str) -> torch.Tensor:
    """GRPO (Shao et al. 2024): reward minus its group's mean, divided by the group's std
    (`group`), the whole batch's std (`batch`), or nothing (`none`: Dr. GRPO, Liu et al. 2025)."""
    centred = rewards - rewards.mean(dim=1, keepdim=True)
    if scale_rewards == "group":
        return centred / (rewards.std(dim=1, keepdim=True) + STD_EPS)
    if scale_rewards == "batch":
        return centred / (rewards.std() + STD_EPS)
    if scale_rewards == "none":
        return centred
    raise ValueError(f"unknown scale_rewards {scale_rewards!r}")


def returns_to_go(token_rewards: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    """sum_{t' >= t} gamma^(t'-t) r_t' over each row's story tokens."""
    returns = torch.zeros_like(token_rewards)
    running = torch.zeros_like(token_rewards[:, 0])
    for t in reversed(range(token_rewards.size(1))):
        running = (token_rewards[:, t] + gamma * running) * mask[:, t]
        returns[:, t] = running
    return returns


def masked_whiten(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(x - mean) / std over the masked entries of the whole batch; zero elsewhere."""
    count = mask.sum().clamp(min=1)
    mean = (values * mask).sum() / count
    variance = (((values - mean) * mask) ** 2).sum() / count
    return (values - mean) / (variance.sqrt() + STD_EPS) * mask


def reinforce_pp_advantage(token_rewards: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """REINFORCE++ (Hu 2025): returns-to-go of token rewards that already hold the
    per-token KL penalty, normalised over the whole batch instead of a critic or group."""
    return masked_whiten(returns_to_go(token_rewards, mask), mask)


def gae_advantage(
    token_rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation (Schulman et al. 2016) over each row's story
    tokens; the value after the last token is 0. Returns (advantages, returns)."""
    advantages = torch.zeros_like(token_rewards)
    next_value = torch.zeros_like(token_rewards[:, 0])
    running = torch.zeros_like(token_rewards[:, 0])
    for t in reversed(range(token_rewards.size(1))):
        delta = token_rewards[:, t] + gamma * next_value - values[:, t]
        running = (delta + gamma * lam * running) * mask[:, t]
        advantages[:, t] = running
        next_value = values[:, t] * mask[:, t]
    return advantages, (advantages + values) * mask


def sequence_to_tokens(sequence_values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """A value per row spread over its story tokens: [rows] -> [rows, tokens]."""
    return sequence_values.reshape(-1, 1) * mask


def final_token_rewards(rewards: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """A story's reward placed on its last token, zero on the others: [rows] -> [rows, tokens]."""
    last = (mask.sum(dim=1) - 1).clamp(min=0).long()
    placed = torch.zeros_like(mask, dtype=rewards.dtype)
    return placed.scatter(1, last.unsqueeze(1), rewards.reshape(-1, 1)) * mask
