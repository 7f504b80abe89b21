"""Run one stage with params overrides in a scratch folder that links the project's
upstream outputs, so the project's own outputs are left alone: what the bench scripts
that compare variants of a stage share."""

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from stages.common.layout import EVALUATE_METRICS_FILE, metrics_file

PROJECT = Path(__file__).resolve().parents[1]


def parse_variant(text: str) -> dict:
    """`a=1,b.c=x` -> {"a": 1, "b.c": "x"}, values read as YAML."""
    overrides = {}
    for assignment in text.split(","):
        key, value = assignment.split("=", 1)
        overrides[key] = yaml.safe_load(value)
    return overrides


def with_overrides(params: dict, section: str, overrides: dict) -> dict:
    """Keys with a dot (`alpha` has none but is top-level) name their section; others are section's."""
    for key, value in overrides.items():
        if key == "alpha":
            params["alpha"] = value
        elif "." in key:
            outer, inner = key.split(".", 1)
            params[outer][inner] = value
        else:
            params[section][key] = value
    return params


def run_stage(
    stage: str, linked: list[str], overrides: dict, read_back: tuple[str, ...] = ()
) -> tuple[dict, float, dict[str, str]]:
    """(the stage's metrics, its wall seconds, the text of the read_back files) for params.yaml plus overrides."""
    metrics, seconds, files = run_stages([stage], linked, overrides, read_back)
    return metrics[stage], seconds[stage], files


def run_stages(
    stages: list[str], linked: list[str], overrides: dict, read_back: tuple[str, ...] = ()
) -> tuple[dict, dict, dict[str, str]]:
    """Stages one after another in one scratch folder (the first one's section takes the
    undotted overrides): each one's metrics and wall seconds, and the read_back files."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for path in linked:
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).symlink_to(PROJECT / path)
        params = with_overrides(yaml.safe_load((PROJECT / "params.yaml").read_text()), stages[0], overrides)
        (folder / "params.yaml").write_text(yaml.safe_dump(params))
        metrics, seconds = {}, {}
        for stage in stages:
            started = time.perf_counter()
            result = subprocess.run([sys.executable, "-m", "stages", stage], cwd=folder, capture_output=True, text=True)
            seconds[stage] = time.perf_counter() - started
            if result.returncode:
                sys.exit(f"{stage} {overrides} failed:\n{result.stderr[-2000:]}")
            written = EVALUATE_METRICS_FILE if stage == "evaluate" else metrics_file(stage)
            metrics[stage] = json.loads((folder / written).read_text())
        files = {path: (folder / path).read_text() for path in read_back}
        return metrics, seconds, files


def cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "-" if value is None else str(value)
