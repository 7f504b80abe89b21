"""The three reward-model kinds (and the pairwise margin) side by side on the same data and SFT model.

    python bench/reward_kinds.py [--variant kind=tier ...]

Needs the default pipeline run up to sft (`dvc repro sft`). Each variant runs the
reward stage with params.yaml's reward section plus the variant's overrides, in a
scratch folder that links data/, models/tokenizer and models/sft, so the project's
own models/reward is left alone. Prints a markdown table of the held-out figures
from reports/reward.json and the stage's wall time.
"""

import argparse
import sys

from scratch_stage import PROJECT, cell, parse_variant, run_stage

DEFAULT_VARIANTS = ["kind=tier", "kind=pairwise", "kind=pairwise,margin_scale=0.5", "kind=listwise"]
COLUMNS = [
    "reward/pairwise_accuracy",
    "reward/spearman_gold",
    "reward/within_spearman_gold",
    "reward/spearman_adjusted",
    "reward/tier_accuracy",
    "reward/val_pairwise_accuracy",
    "reward/best_step",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", action="append", help="comma-separated reward.* overrides, e.g. kind=tier")
    variants = parser.parse_args().variant or DEFAULT_VARIANTS
    if not (PROJECT / "models/sft").exists():
        sys.exit("models/sft not found: run `dvc repro sft` first")
    print("| variant | " + " | ".join(name.removeprefix("reward/") for name in COLUMNS) + " | seconds |")
    print("|---" * (len(COLUMNS) + 2) + "|")
    for variant in variants:
        metrics, seconds, _ = run_stage("reward", ["data", "models/tokenizer", "models/sft"], parse_variant(variant))
        cells = [cell(metrics.get(name)) for name in COLUMNS]
        print(f"| {variant} | " + " | ".join(cells) + f" | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
