"""The plain warnings a report leads with, decided from evaluate's and rl's metrics.

Reward hacking (Gao et al. 2022, "Scaling laws for reward model overoptimization"):
the proxy reward goes up while true quality (gold) or diversity goes down. A gain
counts only when it exceeds SIGNIFICANCE paired standard errors, so sampling noise
on a few dozen prompts does not raise a false alarm.
"""

from dataclasses import dataclass

# Paired-difference z of about 95% two-sided confidence.
SIGNIFICANCE = 2.0


@dataclass(frozen=True)
class Finding:
    level: str  # "warning" | "note" | "ok"
    title: str
    text: str


def significant(metrics: dict, name: str) -> int:
    """+1 when evaluate/{name}_gain is significantly above zero, -1 below, 0 otherwise or unknown."""
    gain, se = metrics.get(f"evaluate/{name}_gain"), metrics.get(f"evaluate/{name}_gain_se")
    if gain is None or se is None:
        return 0
    if gain > SIGNIFICANCE * se:
        return 1
    if gain < -SIGNIFICANCE * se:
        return -1
    return 0


def relative_change(metrics: dict, name: str) -> float | None:
    """(policy - SFT) / SFT of evaluate/*/{name}; None when either is missing or SFT's is 0."""
    sft, policy = metrics.get(f"evaluate/sft/{name}"), metrics.get(f"evaluate/policy/{name}")
    if sft is None or policy is None or sft == 0:
        return None
    return (policy - sft) / sft


def findings(metrics: dict, distinct_2_drop: float, perplexity_rise: float) -> list[Finding]:
    """Warnings for a blow-up, reward hacking and a policy that left the data; one "ok"
    finding when there is none. `metrics` holds evaluate/* and rl/* keys."""
    warnings = []
    if metrics.get("rl/diverged") or metrics.get("evaluate/rl_diverged"):
        step = metrics.get("rl/diverged_step") or metrics.get("evaluate/rl_diverged_step")
        warnings.append(
            Finding(
                "warning",
                "RL blew up",
                f"Training diverged at step {step} and stopped there; the policy evaluated here is the last one "
                "that passed the checks. In a sweep this run counts as '-'. A larger alpha or a smaller rl.lr keeps "
                "it stable.",
            )
        )
    reward_up = significant(metrics, "reward") > 0
    gold_down = significant(metrics, "gold") < 0
    distinct_change = relative_change(metrics, "distinct_2")
    distinct_down = distinct_change is not None and distinct_change < -distinct_2_drop
    if reward_up and (gold_down or distinct_down):
        signs = []
        if gold_down:
            signs.append(
                f"gold fell by {-metrics['evaluate/gold_gain']:.3f} (win rate under gold "
                f"{metrics['evaluate/win_rate_gold']:.2f})"
            )
        if distinct_down:
            signs.append(
                f"distinct-2 fell {-distinct_change:.0%} ({metrics['evaluate/sft/distinct_2']:.3f} -> "
                f"{metrics['evaluate/policy/distinct_2']:.3f})"
            )
        # Narrower stories while gold still rises are the early sign, not yet a loss of
        # quality: said in a note, so that a warning always means the policy got worse.
        gold_up = significant(metrics, "gold") > 0
        if gold_up:
            meaning = (
                f": the stories narrow onto what the reward model likes. Gold still rose "
                f"({metrics['evaluate/gold_gain']:+.3f}), so this is the early sign of reward hacking, "
                "not yet a loss of quality; a larger alpha or rl.kl_coef holds it back."
            )
        else:
            meaning = ": the policy is exploiting the reward model, not writing better stories."
        warnings.append(
            Finding(
                "note" if gold_up else "warning",
                "Diversity narrowed" if gold_up else "Reward hacking",
                f"The reward model's score rose by {metrics['evaluate/reward_gain']:.2f} SD (win rate "
                f"{metrics['evaluate/win_rate_reward']:.2f}) while " + " and ".join(signs) + meaning,
            )
        )
    perplexity_change = relative_change(metrics, "perplexity")
    if perplexity_change is not None and perplexity_change > perplexity_rise:
        warnings.append(
            Finding(
                "warning",
                "The policy left the data",
                f"Test perplexity rose {perplexity_change:.0%} over SFT's ({metrics['evaluate/sft/perplexity']:.2f} -> "
                f"{metrics['evaluate/policy/perplexity']:.2f}), past the {perplexity_rise:.0%} allowed "
                "(report.perplexity_rise).",
            )
        )
    if warnings:
        return warnings
    numbers = all_clear(metrics, distinct_change, perplexity_change)
    if not reward_up:
        return [
            Finding(
                "note",
                "RL did not beat SFT on the reward model",
                f"{numbers} No sign of reward hacking or a blow-up either; more steps, a smaller alpha or a "
                "larger rl.lr let the reward pull harder.",
            )
        ]
    return [Finding("ok", "No sign of reward hacking or a blow-up", numbers)]


def all_clear(metrics: dict, distinct_change: float | None, perplexity_change: float | None) -> str:
    parts = [f"reward {metrics['evaluate/reward_gain']:+.2f} SD (win rate {metrics['evaluate/win_rate_reward']:.2f})"]
    if "evaluate/gold_gain" in metrics:
        parts.append(f"gold {metrics['evaluate/gold_gain']:+.3f} (win rate {metrics['evaluate/win_rate_gold']:.2f})")
    if distinct_change is not None:
        parts.append(f"distinct-2 {distinct_change:+.0%}")
    if perplexity_change is not None:
        parts.append(f"perplexity {perplexity_change:+.1%}")
    return "Policy against SFT on the test prompts: " + ", ".join(parts) + "."
