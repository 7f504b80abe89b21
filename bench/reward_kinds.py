"""The three reward-model kinds (and the pairwise margin) side by side on the same data and SFT model.

    python bench/reward_kinds.py [--variant kind=tier ...]

Needs the default pipeline run up to sft (`dvc repro sft`). Each variant runs the
reward stage with params.yaml's reward section plus the variant's overrides, in a
scratch folder that links data/, models/tokenizer and models/sft, so the project's
own models/reward is left alone. Prints a markdown table of the held-out figures
from reports/reward.json and the stage's wall time.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_VARIANTS = ["kind=tier", "kind=pairwise", "kind=pairwise,margin_scale=0.5", "kind=listwise"]
COLUMNS = [
    "reward/pairwise_accuracy", "reward/spearman_gold", "reward/within_spearman_gold",
    "reward/spearman_adjusted", "reward/tier_accuracy", "reward/val_pairwise_accuracy", "reward/best_step",
]


def parse_variant(text: str) -> dict:
    overrides = {}
    for assignment in text.split(","):
        key, value = assignment.split("=", 1)
        overrides[key] = yaml.safe_load(value)
    return overrides


def run_variant(overrides: dict) -> tuple[dict, float]:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        (folder / "models").mkdir()
        (folder / "data").symlink_to(PROJECT / "data")
        for model in ("tokenizer", "sft"):
            (folder / "models" / model).symlink_to(PROJECT / "models" / model)
        params = yaml.safe_load((PROJECT / "params.yaml").read_text())
        params["reward"] |= overrides
        (folder / "params.yaml").write_text(yaml.safe_dump(params))
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "stages", "reward"], cwd=folder, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if result.returncode:
            sys.exit(f"reward {overrides} failed:\n{result.stderr[-2000:]}")
        return json.loads((folder / "reports/reward.json").read_text()), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", action="append", help="comma-separated reward.* overrides, e.g. kind=tier")
    variants = parser.parse_args().variant or DEFAULT_VARIANTS
    if not (PROJECT / "models/sft").exists():
        sys.exit("models/sft not found: run `dvc repro sft` first")
    print("| variant | " + " | ".join(name.removeprefix("reward/") for name in COLUMNS) + " | seconds |")
    print("|---" * (len(COLUMNS) + 2) + "|")
    for variant in variants:
        metrics, seconds = run_variant(parse_variant(variant))
        cells = [f"{metrics[name]:.3f}" if isinstance(metrics.get(name), float) else str(metrics.get(name, "-")) for name in COLUMNS]
        print(f"| {variant} | " + " | ".join(cells) + f" | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
