"""The RL losses, pure functions over per-token tensors.

Shapes: [rows, tokens] for log-probs, advantages and the mask of story tokens. The
policy-gradient terms are summed over a story's tokens and averaged over stories (the
REINFORCE estimator of a sequence's log-probability), so a story's advantage weighs
every token it chose; the likelihood term is a mean over tokens, as in SFT. That
ratio is what gives alpha the scale it had in the original experiments (docs/rl.md).
"""

import torch
import torch.nn.functional as F


def policy_gradient_loss(logprobs: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """-E[sum_t A_t log pi(a_t)]; advantages carry no gradient."""
    return -(advantages.detach() * logprobs * mask).sum(dim=1).mean()


def ppo_clipped_loss(
    logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor, clip_eps: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Schulman et al. (2017): -E[sum_t min(rho A, clip(rho, 1 +- eps) A)], rho = pi / pi_old.
    Returns the loss and the share of tokens whose ratio was clipped."""
    ratio = torch.exp(logprobs - old_logprobs.detach())
    advantages = advantages.detach()
    unclipped = ratio * advantages
    clipped = ratio.clamp(1.0 - clip_eps, 1.0 + clip_eps) * advantages
    loss = -(torch.minimum(unclipped, clipped) * mask).sum(dim=1).mean()
    clip_share = (((ratio - 1.0).abs() > clip_eps).float() * mask).sum() / mask.sum().clamp(min=1)
    return loss, clip_share


def value_loss(values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Half the mean squared error of the critic over story tokens."""
    return 0.5 * (((values - returns.detach()) ** 2) * mask).sum() / mask.sum().clamp(min=1)


def kl_loss(sequence_kl: torch.Tensor) -> torch.Tensor:
    """KL to the reference as a loss term (rl.kl_in: loss): the mean story's KL."""
    return sequence_kl.mean()


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float,
) -> torch.Tensor:
    """Rafailov et al. (2023): -log sigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r))), with
    each term a story's summed log-probability."""
    margin = (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)
    return -F.logsigmoid(beta * margin).mean()
