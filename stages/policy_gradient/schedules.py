"""The weight of the likelihood term over training.

The original experiments lowered alpha over 500 batches, [90, 70, 50, 30, 20]: start
close to the SFT model and let the reward pull harder as the policy settles.
"""

import math


def alpha_at(step: int, total_steps: int, alpha: float, schedule: list[float] | None) -> float:
    """alpha in force at `step` (0-based): the constant, or the schedule's values spread
    evenly over total_steps, each holding for an equal share of them."""
    if not schedule:
        return alpha
    index = min(len(schedule) - 1, step * len(schedule) // max(total_steps, 1))
    return float(schedule[index])


def warmup_factor(update: int, warmup_steps: int) -> float:
    """The share of the learning rate at optimizer update `update` (0-based): rising
    linearly to 1 over the first warmup_steps updates, 1 after."""
    if update >= warmup_steps:
        return 1.0
    return (update + 1) / (warmup_steps + 1)


def lr_factor(update: int, warmup_steps: int, total_updates: int, decay: str) -> float:
    """Warm-up, then `constant` 1 or a `cosine` fall towards 0 over the remaining updates:
    the last updates move the policy less, so the one saved is less the luck of its last batch."""
    if decay not in ("constant", "cosine"):
        raise ValueError(f"unknown lr decay {decay!r}")
    if decay == "constant" or update < warmup_steps:
        return warmup_factor(update, warmup_steps)
    progress = (update - warmup_steps + 1) / max(total_updates - warmup_steps + 1, 1)
    return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
