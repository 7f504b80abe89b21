"""The rl stage under several settings, side by side on the same data, SFT and reward model.

    python bench/rl_variants.py                       # the eight algorithms at alpha=20
    python bench/rl_variants.py --variant alpha=50 --variant alpha=20
    python bench/rl_variants.py --variant alpha=0,kl_coef=0 --samples 3   # over-optimisation
    python bench/rl_variants.py --evaluate --variant alpha=20 --variant alpha=20,seed=1

--evaluate also runs the evaluate stage on each variant's policy and prints its figures
on the test prompts (paired with SFT on the same draws): reward, gold and its gain in SD
of SFT's samples with the gain's standard error, perplexity of test stories, distinct-2.

Needs the default pipeline run up to reward (`dvc repro reward`). Each variant runs
`ahf rl` with params.yaml plus the variant's overrides (rl.* keys, or alpha) in a
scratch folder linking data/ and models/{tokenizer,sft,reward}. Prints a markdown table
of reports/rl.json: reward, gold and perplexity of SFT and the policy on held-out
prompts, KL to SFT, distinct-2, seconds per step and where they went.
"""

import argparse
import json
import sys

from scratch_stage import PROJECT, cell, parse_variant, run_stages

ALGORITHMS = ["reinforce", "scst", "a2c", "rloo", "grpo", "reinforce_pp", "ppo", "dpo"]
COLUMNS = [
    "rl/sft/reward",
    "rl/policy/reward",
    "rl/sft/gold",
    "rl/policy/gold",
    "rl/gold_gain_sd",
    "rl/sft/perplexity",
    "rl/policy/perplexity",
    "rl/policy/kl",
    "rl/sft/distinct_2",
    "rl/policy/distinct_2",
    "rl/seconds_per_step",
    "rl/seconds_generate",
    "rl/seconds_score",
    "rl/seconds_reference",
    "rl/seconds_update",
    "rl/steps",
    "rl/diverged_step",
]
EVALUATE_COLUMNS = [
    "evaluate/sft/reward",
    "evaluate/policy/reward",
    "evaluate/sft/gold",
    "evaluate/policy/gold",
    "test_gold_gain_sd",
    "test_gold_gain_se_sd",
    "evaluate/sft/perplexity",
    "evaluate/policy/perplexity",
    "perplexity_ratio",
    "evaluate/sft/distinct_2",
    "evaluate/policy/distinct_2",
    "evaluate/win_rate_gold",
]
LINKED = ["data", "models/tokenizer", "models/sft", "models/reward"]


def evaluate_row(metrics: dict) -> dict:
    """evaluate's figures plus the gold gain in SD of SFT's samples and the perplexity ratio."""
    spread = metrics.get("evaluate/sft/gold_std")
    derived = {}
    if spread and metrics.get("evaluate/gold_gain") is not None:
        derived = {
            "test_gold_gain_sd": metrics["evaluate/gold_gain"] / spread,
            "test_gold_gain_se_sd": metrics["evaluate/gold_gain_se"] / spread,
        }
    derived["perplexity_ratio"] = metrics["evaluate/policy/perplexity"] / metrics["evaluate/sft/perplexity"]
    return metrics | derived


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", action="append", help="comma-separated overrides, e.g. algo=ppo,alpha=20")
    parser.add_argument("--samples", type=int, default=0, help="print this many final samples of each variant")
    parser.add_argument("--evaluate", action="store_true", help="also run evaluate on each policy (test prompts)")
    args = parser.parse_args()
    variants = args.variant or [f"algo={algo},alpha=20" for algo in ALGORITHMS]
    if not (PROJECT / "models/reward").exists():
        sys.exit("models/reward not found: run `dvc repro reward` first")
    columns = COLUMNS + (EVALUATE_COLUMNS if args.evaluate else [])
    stages = ["rl", "evaluate"] if args.evaluate else ["rl"]
    print("| variant | " + " | ".join(name.removeprefix("rl/") for name in columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for variant in variants:
        metrics, _, files = run_stages(stages, LINKED, parse_variant(variant), read_back=("reports/rl_samples.jsonl",))
        row = metrics["rl"] | (evaluate_row(metrics["evaluate"]) if args.evaluate else {})
        print(f"| {variant} | " + " | ".join(cell(row.get(name)) for name in columns) + " |", flush=True)
        if args.samples:
            print_samples(files["reports/rl_samples.jsonl"], args.samples)


def print_samples(samples_jsonl: str, count: int) -> None:
    """The last evaluation's first stories, to read what the numbers mean."""
    rows = [json.loads(line) for line in samples_jsonl.splitlines()]
    last = max(row["step"] for row in rows)
    for row in [row for row in rows if row["step"] == last][:count]:
        gold = f", gold {row['gold']:.2f}" if "gold" in row else ""
        print(f"\n> step {last}, reward {row['reward']:.2f}{gold}\n> {row['prompt'][:80]}\n> {row['story']}")


if __name__ == "__main__":
    main()
