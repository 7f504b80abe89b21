"""The original experiments' table, from `dvc exp show --json`: a row per value of the
swept params, each cell one value per run (seed) separated by commas, `-` for a run
that blew up, then their mean and spread.

Parsing and rendering are pure (a list of JSON entries in, text and panels out);
only exp_show_entries runs dvc.
"""

import json
import math
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stages.common.errors import StageError
from stages.reporting.figures import Panel, Series


@dataclass(frozen=True)
class Run:
    """One experiment (or commit) of `dvc exp show`: its params flattened to dotted keys, its metrics merged."""

    name: str
    params: dict
    metrics: dict

    @property
    def diverged(self) -> bool:
        return bool(self.metrics.get("evaluate/rl_diverged") or self.metrics.get("rl/diverged"))


@dataclass(frozen=True)
class Column:
    key: str  # a metric's name
    title: str
    digits: int = 3

    @property
    def baseline_key(self) -> str | None:
        """The same figure for the SFT baseline, when the metric is the policy's."""
        return self.key.replace("/policy/", "/sft/") if "/policy/" in self.key else None

    def lost_in_blow_up(self) -> bool:
        """A run that blew up has no policy worth its numbers: '-' for what rl and evaluate say of the policy."""
        return self.key.startswith(("rl/", "evaluate/")) and "/sft/" not in self.key


# The original table's columns, measured on the test prompts by evaluate.
DEFAULT_COLUMNS = (
    Column("evaluate/policy/reward", "avg-reward"),
    Column("evaluate/policy/perplexity", "perplexity"),
    Column("evaluate/policy/gold", "gold"),
)


@dataclass(frozen=True)
class SweepRow:
    values: tuple  # of the swept params
    runs: list[Run]  # ordered by seed

    @property
    def blow_ups(self) -> int:
        return sum(run.diverged for run in self.runs)


def flatten(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat |= flatten(value, f"{name}.")
        else:
            flat[name] = value
    return flat


def run_of(entry: dict, name: str) -> Run | None:
    """A Run from one rev of `dvc exp show --json`; None when it has no metrics (queued, failed, never run)."""
    data = entry.get("data") or {}
    metrics = {}
    for file in (data.get("metrics") or {}).values():
        metrics |= file.get("data") or {}
    if not metrics:
        return None
    params = {}
    for file in (data.get("params") or {}).values():
        params |= flatten(file.get("data") or {})
    return Run(name, params, metrics)


def runs_from_exp_show(entries: list[dict]) -> list[Run]:
    """Every experiment shown and the commits they start from, one run per set of params.

    The workspace is left out: it repeats the last experiment run in it, or holds
    uncommitted results. Runs with the same params count once, the first in dvc's
    order with a commit's experiments (newest first) before the commit itself: a
    queued `alpha=50 rl.seed=0` replaces the commit it was queued from, not joins it.
    """
    runs, seen = [], set()
    for entry in entries:
        if entry.get("rev") == "workspace":
            continue
        candidates = [
            (rev, rev.get("name") or group.get("name") or rev.get("rev", "")[:7])
            for group in entry.get("experiments") or []
            for rev in group.get("revs") or []
        ]
        candidates.append((entry, entry.get("name") or entry.get("rev", "")[:7]))
        for rev, name in candidates:
            run = run_of(rev, name)
            if run is None:
                continue
            fingerprint = json.dumps(run.params, sort_keys=True, default=str)
            if fingerprint not in seen:
                seen.add(fingerprint)
                runs.append(run)
    return runs


def sortable(value) -> tuple:
    """Numbers in numeric order before anything else in text order (None last)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return (1, str(value)) if value is not None else (2, "")
    return (0, value)


def sweep_rows(runs: list[Run], params: list[str], seed_param: str) -> list[SweepRow]:
    missing = [param for param in params if not any(param in run.params for run in runs)]
    if missing:
        raise StageError(f"no experiment has the param {', '.join(missing)}: spell it as in params.yaml (e.g. rl.algo)")
    groups: dict[tuple, list[Run]] = {}
    for run in runs:
        groups.setdefault(tuple(run.params.get(param) for param in params), []).append(run)
    return [
        SweepRow(values, sorted(group, key=lambda run: sortable(run.params.get(seed_param))))
        for values, group in sorted(groups.items(), key=lambda item: [sortable(v) for v in item[0]])
    ]


def cell_value(run: Run, column: Column) -> float | None:
    """None: blew up (for the policy's metrics) or never measured."""
    if run.diverged and column.lost_in_blow_up():
        return None
    value = run.metrics.get(column.key)
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def mean_and_spread(values: list[float | None], digits: int) -> str:
    kept = [value for value in values if value is not None]
    if not kept:
        return "-"
    if len(kept) == 1:
        return f"{kept[0]:.{digits}f}"
    return f"{np.mean(kept):.{digits}f} ± {np.std(kept, ddof=1):.{digits}f}"


def formatted(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def baseline_values(runs: list[Run], column: Column) -> list[float]:
    """SFT's figure as the runs measured it: one value unless the sweep changed SFT itself."""
    values = {
        round(float(run.metrics[column.baseline_key]), 12)
        for run in runs
        if column.baseline_key and isinstance(run.metrics.get(column.baseline_key), (int, float))
    }
    return sorted(values)


def render_sweep(rows: list[SweepRow], params: list[str], columns: list[Column], seed_param: str) -> str:
    """The table as Markdown, with a line saying how to read it."""
    header = [*list(params), "blew up"]
    for column in columns:
        header += [column.title, "mean ± sd"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    runs = [run for row in rows for run in row.runs]
    baselines = [baseline_values(runs, column) for column in columns]
    if any(baselines):
        cells = ["Baseline (SFT)"] + [""] * len(params)
        for column, values in zip(columns, baselines, strict=True):
            cells += [", ".join(f"{value:.{column.digits}f}" for value in values) or "", ""]
        lines.append("| " + " | ".join(cells) + " |")
    for row in rows:
        cells = [str(value) for value in row.values] + [f"{row.blow_ups}/{len(row.runs)}"]
        for column in columns:
            values = [cell_value(run, column) for run in row.runs]
            cells += [
                ", ".join(formatted(value, column.digits) for value in values),
                mean_and_spread(values, column.digits),
            ]
        lines.append("| " + " | ".join(cells) + " |")
    legend = (
        f"One value per run, in order of `{seed_param}`; `-` is a run that blew up (`rl/diverged`); "
        "mean ± sd over the runs that did not. Columns: " + ", ".join(f"{c.title} = `{c.key}`" for c in columns) + "."
    )
    return "\n".join(lines) + "\n\n" + legend + "\n"


def sweep_panels(rows: list[SweepRow], params: list[str], columns: list[Column]) -> list[Panel]:
    """One panel per column: every run's value and the mean of each row; blow-ups counted at the foot."""
    numeric = len(params) == 1 and all(
        isinstance(row.values[0], (int, float)) and not isinstance(row.values[0], bool) for row in rows
    )
    xs = [float(row.values[0]) for row in rows] if numeric else list(range(len(rows)))
    log_x = numeric and min(xs) > 0 and max(xs) / min(xs) >= 10
    ticks = [(x, " / ".join(str(value) for value in row.values)) for x, row in zip(xs, rows, strict=True)]
    runs = [run for row in rows for run in row.runs]
    panels = []
    for column in columns:
        points_x, points_y, mean_x, mean_y = [], [], [], []
        for x, row in zip(xs, rows, strict=True):
            values = [value for value in (cell_value(run, column) for run in row.runs) if value is not None]
            points_x += [x] * len(values)
            points_y += values
            if values:
                mean_x.append(x)
                mean_y.append(float(np.mean(values)))
        series = [Series("runs", points_x, points_y, "o"), Series("mean", mean_x, mean_y, "-")]
        baseline = baseline_values(runs, column)
        if len(baseline) == 1:
            series.append(Series("SFT baseline", [min(xs), max(xs)], baseline * 2, "--"))
        notes = [
            (x, f"{row.blow_ups} blew up")
            for x, row in zip(xs, rows, strict=True)
            if row.blow_ups and column.lost_in_blow_up()
        ]
        panels.append(
            Panel(column.title, " / ".join(params), column.key, series, log_x=log_x, x_ticks=ticks, notes=notes)
        )
    return panels


def exp_show_entries(folder: Path, all_commits: bool) -> list[dict]:
    """`dvc exp show --json` run in `folder`, parsed."""
    command = ["dvc", "exp", "show", "--json"] + (["--all-commits"] if all_commits else [])
    try:
        result = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    except FileNotFoundError as error:
        raise StageError("dvc not found: activate the project's environment (source .venv/bin/activate)") from error
    if result.returncode:
        last = (result.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise StageError(f"`{' '.join(command)}` failed: {last}")
    return parse_exp_show(result.stdout)


def parse_exp_show(text: str) -> list[dict]:
    try:
        entries = json.loads(text)
    except json.JSONDecodeError as error:
        raise StageError(f"`dvc exp show --json` gave no JSON: {error}") from error
    if not isinstance(entries, list):
        raise StageError("`dvc exp show --json` gave something other than a list of revisions")
    return entries
