"""report: what the pipeline found, as reports/report.md and a self-contained report.html.

Reads only what the stages wrote (their metrics, curves and evaluate's samples), so
it takes seconds and reruns whenever any of them changes. The figures are also
written as PNG files under reports/figures/ (report.md links them; `dvc plots show`
shows them).
"""

import json
from pathlib import Path

from stages.common.atomic_io import atomic_output_dir, atomic_write_text
from stages.common.config import ReportConfig, RewardConfig, RLConfig, load_alpha, load_section
from stages.common.errors import StageError
from stages.common.layout import (
    EVALUATE_METRICS_FILE,
    EVALUATE_SAMPLES_FILE,
    FIGURES_DIR,
    REPORT_HTML_FILE,
    REPORT_MARKDOWN_FILE,
    REWARD_LIVE_DIR,
    RL_LIVE_DIR,
    SFT_LIVE_DIR,
    metrics_file,
)
from stages.reporting.curves import live_curve
from stages.reporting.document import Callout, Figure, render_html, render_markdown
from stages.reporting.sections import CURVES, ReportInputs, RunSettings, report_blocks

STAGE_METRICS = {
    "scrape": metrics_file("scrape"),
    "rank": metrics_file("rank"),
    "sft": metrics_file("sft"),
    "reward": metrics_file("reward"),
    "rl": metrics_file("rl"),
    "evaluate": EVALUATE_METRICS_FILE,
}
LIVE_DIRS = {"sft": SFT_LIVE_DIR, "reward": REWARD_LIVE_DIR, "rl": RL_LIVE_DIR}
TITLE = "ahf: RLHF from Reddit votes, the report"


def read_json(path: Path, stage: str) -> dict:
    if not path.exists():
        raise StageError(f"{path} not found: run `ahf {stage}` first")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise StageError(f"{path} is not valid JSON: {error}") from error


def run(params: Path) -> str:
    config = load_section(params, "report", ReportConfig)
    rl = load_section(params, "rl", RLConfig)
    settings = RunSettings(rl.algo, load_alpha(params), rl.seed, load_section(params, "reward", RewardConfig).kind)
    metrics = {}
    for stage, path in STAGE_METRICS.items():
        metrics |= read_json(path, stage)
    if not EVALUATE_SAMPLES_FILE.exists():
        raise StageError(f"{EVALUATE_SAMPLES_FILE} not found: run `ahf evaluate` first")
    samples = [json.loads(line) for line in EVALUATE_SAMPLES_FILE.read_text().splitlines()]
    curves = {name: live_curve(LIVE_DIRS[name.split("/")[0]], name) for name in CURVES}

    blocks = report_blocks(
        ReportInputs(metrics, samples, curves, settings), config.samples, config.distinct_2_drop, config.perplexity_rise
    )
    figures = [block for block in blocks if isinstance(block, Figure)]
    # Everything rendered before anything is written: a failure leaves the last report whole.
    markdown = render_markdown(TITLE, blocks, FIGURES_DIR.relative_to(REPORT_MARKDOWN_FILE.parent).as_posix())
    page = render_html(TITLE, blocks)
    with atomic_output_dir(FIGURES_DIR) as staging:
        for figure in figures:
            (staging / f"{figure.name}.png").write_bytes(figure.png)
    atomic_write_text(REPORT_MARKDOWN_FILE, markdown)
    atomic_write_text(REPORT_HTML_FILE, page)
    warnings = [block.title for block in blocks if isinstance(block, Callout) and block.level == "warning"]
    verdict = f"warnings: {'; '.join(warnings)}" if warnings else "no warnings"
    return f"report: {len(figures)} figures, {verdict} -> {REPORT_HTML_FILE}, {REPORT_MARKDOWN_FILE}"
