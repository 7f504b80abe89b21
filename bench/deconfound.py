"""rank.deconfound: model against zscore, on worlds the simulator draws differently.

    python bench/deconfound.py [--only default,seed_1,...] [--set rank.feedback=both ...]

For each world below, `ahf scrape` then `ahf rank` in a temp folder (params.yaml's, with
the world's simulate params), and the Spearman correlations with gold that rank.json
gives for every signal: across all stories and the mean within prompts. rank computes
every signal whatever rank.feedback says, so one run per world gives them all.

Worlds: the default; simulate.seed 1 and 2; a 3x larger world (n_prompts 3000,
n_writers 900); attention decaying half as fast (attention_tau_h x2); prompts' popularity
spread 1.5 times wider (popularity_sigma x1.5).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_SIMULATE = yaml.safe_load((PROJECT / "params.yaml").read_text())["simulate"]
WORLDS = {
    "default": {},
    "seed_1": {"seed": 1},
    "seed_2": {"seed": 2},
    "world_3x": {"n_prompts": 3 * DEFAULT_SIMULATE["n_prompts"], "n_writers": 3 * DEFAULT_SIMULATE["n_writers"]},
    "attention_tau_x2": {"attention_tau_h": 2 * DEFAULT_SIMULATE["attention_tau_h"]},
    "popularity_sigma_x1.5": {"popularity_sigma": 1.5 * DEFAULT_SIMULATE["popularity_sigma"]},
}
SIGNALS = ("score", "zscore", "model", "replies", "both")


def ranked_world(folder: Path, simulate: dict, overrides: list[str]) -> dict:
    """rank.json of the world `simulate` describes, params.yaml's otherwise."""
    params = yaml.safe_load((PROJECT / "params.yaml").read_text())
    params["simulate"] |= simulate
    for override in overrides:
        key, value = override.split("=", 1)
        *path, name = key.split(".")
        section = params
        for part in path:
            section = section[part]
        section[name] = yaml.safe_load(value)
    (folder / "params.yaml").write_text(yaml.safe_dump(params))
    for stage in ("scrape", "rank"):
        result = subprocess.run(
            [sys.executable, "-m", "stages", stage], cwd=folder, capture_output=True, text=True, env=os.environ
        )
        if result.returncode != 0:
            raise SystemExit(f"{stage} failed in {folder}:\n{result.stderr}")
    return json.loads((folder / "reports/rank.json").read_text())


def figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(WORLDS), help="worlds to run, comma-separated")
    parser.add_argument("--set", action="append", default=[], help="a param, e.g. rank.reply_weight=0.3")
    args = parser.parse_args()
    header = ["world"] + [f"{name} ({scope})" for scope in ("all", "within") for name in SIGNALS]
    header += ["model - zscore (all)", "model - zscore (within)"]
    print(" | ".join(header))
    for name in args.only.split(","):
        with tempfile.TemporaryDirectory(prefix="ahf-deconfound-") as folder:
            metrics = ranked_world(Path(folder), WORLDS[name], args.set)
        row = [name]
        for prefix in ("rank/spearman_gold_", "rank/within_spearman_gold_"):
            row += [figure(metrics.get(prefix + signal)) for signal in SIGNALS]
        for prefix in ("rank/spearman_gold_", "rank/within_spearman_gold_"):
            row.append(f"{metrics[prefix + 'model'] - metrics[prefix + 'zscore']:+.3f}")
        print(" | ".join(row), flush=True)


if __name__ == "__main__":
    main()
