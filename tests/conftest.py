"""Shared test helpers: a small project folder and the real `ahf` CLI run in it."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[1]
# Small enough to run in a second, large enough for every split and tier to be filled.
SMALL_SIMULATION = {"n_prompts": 80, "n_writers": 40}


def project_params(**section_overrides: dict) -> dict:
    params = yaml.safe_load((PROJECT / "params.yaml").read_text())
    for section, values in section_overrides.items():
        params.setdefault(section, {}).update(values)
    return params


def write_params(folder: Path, **section_overrides: dict) -> Path:
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(project_params(**section_overrides), sort_keys=False))
    return path


def run_ahf(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "stages", *args], cwd=folder, capture_output=True, text=True, timeout=600
    )


@pytest.fixture
def small_project(tmp_path: Path) -> Path:
    """A folder with params.yaml for a small simulated subreddit."""
    write_params(tmp_path, simulate=SMALL_SIMULATION)
    return tmp_path
