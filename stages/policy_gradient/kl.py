"""KL to the reference model, estimated per token from the sampled tokens' log-probs
(Schulman 2020, "Approximating KL divergence"), and the adaptive coefficient of
Ziegler et al. (2019).

With r = pi_ref(x) / pi(x) for a token x drawn from pi:
  k1 = -log r                 unbiased, high variance, can be negative
  k2 = (log r)^2 / 2          biased, low variance, always >= 0
  k3 = (r - 1) - log r        unbiased, low variance, always >= 0
All three are zero where the policy equals the reference.
"""

import torch


def kl_per_token(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, estimator: str) -> torch.Tensor:
    log_ratio = ref_logprobs - logprobs
    if estimator == "k1":
        return -log_ratio
    if estimator == "k2":
        return 0.5 * log_ratio**2
    if estimator == "k3":
        return torch.expm1(log_ratio) - log_ratio
    raise ValueError(f"unknown KL estimator {estimator!r}")


def sequence_kl(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, mask: torch.Tensor, estimator: str) -> torch.Tensor:
    """KL of each story: the per-token estimates summed over its tokens. [rows]"""
    return (kl_per_token(logprobs, ref_logprobs, estimator) * mask).sum(dim=1)


class AdaptiveKLController:
    """Ziegler et al. (2019), eq. 2: steer the KL coefficient towards a target KL.
    e = clip(KL / target - 1, -0.2, 0.2);  beta <- beta * (1 + e * n / horizon)."""

    def __init__(self, initial: float, target: float, horizon: int):
        self.value, self.target, self.horizon = initial, target, horizon

    def update(self, observed_kl: float, n_samples: int) -> float:
        error = min(max(observed_kl / self.target - 1.0, -0.2), 0.2)
        self.value *= 1.0 + error * n_samples / self.horizon
        return self.value


class FixedKLController:
    def __init__(self, value: float):
        self.value = value

    def update(self, observed_kl: float, n_samples: int) -> float:
        return self.value
