"""Whether the defaults hold on other simulated worlds: the whole pipeline per world,
then rl and evaluate per variant of the rl params, on the test prompts.

    python bench/worlds.py --world simulate.seed=1 --world simulate.seed=2 \\
        --world simulate.n_prompts=3000,simulate.n_writers=900 --variant alpha=15 --variant alpha=20

A world is params.yaml with the world's overrides (any section's keys, dotted); a
variant adds rl overrides (`alpha`, `rl.*`). Each world is built in a folder of its own
under --folder (kept, so a second call with other variants reuses the world's data and
models: a world is built only where its reward model is missing), and each variant's
rl and evaluate run there in turn. Prints, per world and variant, evaluate's paired
figures on the test prompts: the gold gain in SD of SFT's samples (with its standard
error), the judge's gain, the reward's, the perplexity ratio and the outcome.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import yaml
from scratch_stage import PROJECT, cell, parse_variant

UPSTREAM = ["scrape", "rank", "tokenizer", "sft", "reward"]
DOWNSTREAM = ["rl", "evaluate"]


def dotted(params: dict, overrides: dict) -> dict:
    for key, value in overrides.items():
        *outer, inner = key.split(".")
        section = params
        for name in outer:
            section = section[name]
        section[inner] = value
    return params


def run(folder: Path, stage: str) -> None:
    command = [sys.executable, "-m", "stages"] + (["launch", stage] if stage in ("sft", "reward", "rl") else [stage])
    result = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"{folder.name}: {stage} failed:\n{result.stderr[-2000:]}")
    print(f"  {folder.name}: {result.stdout.strip().splitlines()[-1] if result.stdout.strip() else stage}", flush=True)


def row(world: str, variant: str, metrics: dict) -> list[str]:
    spread = metrics.get("evaluate/sft/gold_std")

    def in_sd(name: str) -> str:
        value, se = metrics.get(f"evaluate/{name}_gain"), metrics.get(f"evaluate/{name}_gain_se")
        if value is None:
            return "-"
        scale = spread if name == "gold" and spread else 1.0
        return f"{value / scale:+.2f} ± {se / scale:.2f}"

    ratio = metrics["evaluate/policy/perplexity"] / metrics["evaluate/sft/perplexity"]
    outcome = f"diverged at {metrics['evaluate/rl_diverged_step']}" if metrics.get("evaluate/rl_diverged") else ""
    return [world, variant, in_sd("gold"), in_sd("judge"), in_sd("reward"), f"{ratio - 1:+.1%}", outcome]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", action="append", default=[], help="overrides, e.g. simulate.seed=1 ('' = default)")
    parser.add_argument("--variant", action="append", default=[], help="rl overrides, e.g. alpha=20,rl.lr=1e-3")
    parser.add_argument("--folder", type=Path, default=PROJECT / ".worlds", help="where the worlds are kept")
    args = parser.parse_args()
    rows = []
    for world in args.world or [""]:
        folder = args.folder / (world.replace(",", "_").replace("=", "-") or "default")
        folder.mkdir(parents=True, exist_ok=True)
        base = dotted(yaml.safe_load((PROJECT / "params.yaml").read_text()), parse_variant(world) if world else {})
        if not (folder / "models/reward").exists():
            (folder / "params.yaml").write_text(yaml.safe_dump(base))
            for stage in UPSTREAM:
                run(folder, stage)
        for variant in args.variant or [""]:
            (folder / "params.yaml").write_text(
                yaml.safe_dump(dotted(json.loads(json.dumps(base)), parse_variant(variant) if variant else {}))
            )
            for stage in DOWNSTREAM:
                run(folder, stage)
            metrics = json.loads((folder / "reports/metrics.json").read_text())
            rows.append(row(world or "default", variant or "defaults", metrics))
    print("\n| world | rl variant | gold gain (SD) | judge gain | reward gain | perplexity | outcome |")
    print("|---|---|---|---|---|---|---|")
    for cells in rows:
        print("| " + " | ".join(cell(c) for c in cells) + " |")


if __name__ == "__main__":
    main()
