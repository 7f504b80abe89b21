"""Where each stage's outputs live, relative to the project root (mirrors dvc.yaml)."""

from pathlib import Path

RAW_DIR = Path("data/raw")
PROCESSED_DIR = Path("data/processed")
STORIES_FILE = PROCESSED_DIR / "stories.parquet"
PAIRS_FILE = PROCESSED_DIR / "pairs.parquet"

TOKENIZER_DIR = Path("models/tokenizer")
SFT_DIR = Path("models/sft")
REWARD_DIR = Path("models/reward")
POLICY_DIR = Path("models/policy")

REPORTS_DIR = Path("reports")
SFT_SAMPLES_FILE = REPORTS_DIR / "sft_samples.jsonl"
SFT_LIVE_DIR = REPORTS_DIR / "sft_live"
REWARD_LIVE_DIR = REPORTS_DIR / "reward_live"
RL_SAMPLES_FILE = REPORTS_DIR / "rl_samples.jsonl"
RL_LIVE_DIR = REPORTS_DIR / "rl_live"
# evaluate's metrics are the ones a user compares most: the conventional name, not evaluate.json.
EVALUATE_METRICS_FILE = REPORTS_DIR / "metrics.json"
EVALUATE_SAMPLES_FILE = REPORTS_DIR / "samples.jsonl"
REPORT_MARKDOWN_FILE = REPORTS_DIR / "report.md"
REPORT_HTML_FILE = REPORTS_DIR / "report.html"
FIGURES_DIR = REPORTS_DIR / "figures"
# `ahf sweep` (a command, not a stage): beside the report, outside what DVC tracks.
SWEEP_MARKDOWN_FILE = REPORTS_DIR / "sweep.md"
SWEEP_FIGURE_FILE = REPORTS_DIR / "sweep.png"


def metrics_file(stage: str) -> Path:
    return REPORTS_DIR / f"{stage}.json"
