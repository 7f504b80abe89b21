"""The curves DVCLive wrote (plots/metrics/<name>.tsv, one row per logged step)."""

from pathlib import Path

import pandas as pd


def live_curve(live_dir: Path, name: str) -> pd.DataFrame | None:
    """Columns `step` and `value` of metric `name` (e.g. "rl/eval/gold"); None when it was never logged."""
    path = Path(live_dir) / "plots" / "metrics" / f"{name}.tsv"
    if not path.exists():
        return None
    frame = pd.read_csv(path, sep="\t")
    return pd.DataFrame({"step": frame["step"], "value": frame[name.rsplit("/", 1)[-1]]})
