"""The rl stage under several settings, side by side on the same data, SFT and reward model.

    python bench/rl_variants.py                       # the eight algorithms at alpha=20
    python bench/rl_variants.py --variant alpha=50 --variant alpha=20
    python bench/rl_variants.py --variant alpha=0,kl_coef=0 --samples 3   # over-optimisation

Needs the default pipeline run up to reward (`dvc repro reward`). Each variant runs
`ahf rl` with params.yaml plus the variant's overrides (rl.* keys, or alpha) in a
scratch folder linking data/ and models/{tokenizer,sft,reward}. Prints a markdown table
of reports/rl.json: reward, gold and perplexity of SFT and the policy on held-out
prompts, KL to SFT, distinct-2, seconds per step and where they went.
"""

import argparse
import json
import sys

from scratch_stage import PROJECT, cell, parse_variant, run_stage

ALGORITHMS = ["reinforce", "scst", "a2c", "rloo", "grpo", "reinforce_pp", "ppo", "dpo"]
COLUMNS = [
    "rl/sft/reward", "rl/policy/reward", "rl/sft/gold", "rl/policy/gold", "rl/gold_gain_sd",
    "rl/sft/perplexity", "rl/policy/perplexity", "rl/policy/kl", "rl/sft/distinct_2", "rl/policy/distinct_2",
    "rl/seconds_per_step", "rl/seconds_generate", "rl/seconds_score", "rl/seconds_reference", "rl/seconds_update",
    "rl/steps", "rl/diverged_step",
]
LINKED = ["data", "models/tokenizer", "models/sft", "models/reward"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", action="append", help="comma-separated overrides, e.g. algo=ppo,alpha=20")
    parser.add_argument("--samples", type=int, default=0, help="print this many final samples of each variant")
    args = parser.parse_args()
    variants = args.variant or [f"algo={algo},alpha=20" for algo in ALGORITHMS]
    if not (PROJECT / "models/reward").exists():
        sys.exit("models/reward not found: run `dvc repro reward` first")
    print("| variant | " + " | ".join(name.removeprefix("rl/") for name in COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for variant in variants:
        metrics, _, files = run_stage("rl", LINKED, parse_variant(variant), read_back=("reports/rl_samples.jsonl",))
        print(f"| {variant} | " + " | ".join(cell(metrics.get(name)) for name in COLUMNS) + " |", flush=True)
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
