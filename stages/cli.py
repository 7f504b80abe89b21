"""The ahf command: one subcommand per pipeline stage, each reading params.yaml.

Stage modules are imported only when their command runs, so `ahf rank` does not pay
for importing torch. A StageError (bad params, missing input) prints one line and
exits 2; anything else is a bug and keeps its traceback.
"""

import importlib
import os
import sys
from pathlib import Path

import typer

from stages.common.errors import StageError

app = typer.Typer(
    help="Ambient Human Feedback: RLHF from Reddit votes, one command per DVC stage.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold credentials
    add_completion=False,
)

STAGES = {
    "scrape": "Fill data/raw/ from the simulator, Reddit (PRAW) or dump files.",
    "rank": "Rank stories by adjusted score, bin tiers, split, build preference pairs.",
    "tokenizer": "Train the tiny base's BPE tokenizer (or save the pretrained base's).",
    "sft": "Behavior cloning: fine-tune the base LM on prompt -> story.",
    "reward": "Train the reward model (tier, pairwise or listwise) on the rankings.",
    "rl": "RL fine-tuning of the SFT policy against the reward model (rl.algo, alpha, KL).",
    "evaluate": "The policy against SFT on the test prompts: reward, gold, perplexity, KL, diversity, win rates.",
    "report": "reports/report.md and a self-contained report.html: data, models, RL, evaluation, samples.",
}

PARAMS_OPTION = typer.Option(Path("params.yaml"), "--params", help="The params file to read.")


def quiet_libraries() -> None:
    """Our own progress bars say what runs; the libraries' per-file bars and notices
    (weight loading, shard writing) would bury them. Users can set these themselves."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def run_stage(name: str, params: Path) -> None:
    from stages.common.config import check_stage_params

    quiet_libraries()
    # Under accelerate launch (torchrun's RANK) only the main process speaks: the others
    # hit the same error, or finish with nothing to say.
    main = os.environ.get("RANK", "0") == "0"
    try:
        check_stage_params(name, params)  # before the seconds of importing torch
        module = importlib.import_module(f"stages.{name}")
        summary = module.run(params)
    except StageError as error:
        if main:
            typer.echo(f"ahf {name}: error: {error}", err=True)
        raise typer.Exit(2) from None
    if "torch" in sys.modules:  # only a stage that imported torch can have joined a process group
        from stages.common.distributed import leave_process_group

        leave_process_group()  # after a success only: a process that failed may leave others waiting
    if summary:
        typer.echo(summary)


def register(name: str, help_text: str) -> None:
    def command(params: Path = PARAMS_OPTION) -> None:
        run_stage(name, params)

    app.command(name=name, help=help_text)(command)


for stage_name, stage_help in STAGES.items():
    register(stage_name, stage_help)


@app.command(name="launch")
def launch(
    stage: str = typer.Argument(..., help=f"The stage: {', '.join(STAGES)}."),
    params: Path = PARAMS_OPTION,
) -> None:
    """Run STAGE as params' launch section asks: under `accelerate launch` with launch.config
    (or AHF_ACCELERATE_CONFIG) for sft, reward and rl, with glibc's malloc thresholds set."""
    from stages.common.config import LaunchConfig, load_section
    from stages.common.launcher import launch_plan

    try:
        if stage not in STAGES:
            raise StageError(f"no stage {stage!r}; the stages are {', '.join(STAGES)}")
        plan = launch_plan(stage, params, load_section(params, "launch", LaunchConfig), os.environ)
    except StageError as error:
        typer.echo(f"ahf launch: error: {error}", err=True)
        raise typer.Exit(2) from None
    if plan.argv is None:
        run_stage(stage, params)
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(plan.argv[0], plan.argv, os.environ | plan.env)


@app.command(name="fake-reddit")
def fake_reddit(
    params: Path = PARAMS_OPTION,
    port: int = typer.Option(8765, help="Port on 127.0.0.1 (0: any free one)."),
    site: str = typer.Option("fake-reddit", help="Name of the praw.ini site it prints."),
    prompts: int | None = typer.Option(None, min=1, help="Submissions to serve (default: simulate.n_prompts)."),
    stories_per_prompt: float | None = typer.Option(
        None, min=3.0, help="Top-level comments per thread, on average (default: simulate.stories_per_prompt)."
    ),
    more_batch: int = typer.Option(4, min=1, help="Comments per answer to a 'load more comments' call."),
    fault_rate: float = typer.Option(0.0, min=0.0, max=1.0, help="Share of requests answered 429, 500 or 503."),
    retry_after: int = typer.Option(1, min=0, help="Seconds of Retry-After on each 429."),
) -> None:
    """Serve the simulated subreddit (params' simulate section) through a local Reddit-speaking API."""
    from stages.common.config import DataConfig, SimulateConfig, load_section
    from stages.sources.fake_reddit import Faults, simulated_reddit

    overrides = {"n_prompts": prompts, "stories_per_prompt": stories_per_prompt}
    try:
        data = load_section(params, "data", DataConfig)
        simulate = load_section(params, "simulate", SimulateConfig)
        simulate = simulate.model_copy(update={key: value for key, value in overrides.items() if value is not None})
        server = simulated_reddit(simulate, data.subreddit, port=port, more_batch=more_batch)
    except StageError as error:
        typer.echo(f"ahf fake-reddit: error: {error}", err=True)
        raise typer.Exit(2) from None
    server.faults = Faults(rate=fault_rate, retry_after_s=retry_after)
    typer.echo(f"Serving r/{data.subreddit} at {server.url} (Ctrl-C stops). A praw.ini site for it:\n")
    typer.echo(server.praw_ini_site(site))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        typer.echo(f"stopped after {server.tally()}")


@app.command(name="sweep")
def sweep(
    params: list[str] = typer.Argument(
        ..., help="The swept params, as in params.yaml: alpha, rl.algo, reward.kind, ..."
    ),
    metric: list[str] = typer.Option(
        None, "--metric", help="A metric column instead of the default three (repeatable)."
    ),
    seed: str = typer.Option("rl.seed", "--seed", help="The param that orders the runs within a row."),
    from_json: Path = typer.Option(
        None, "--from-json", help="Read a saved `dvc exp show --json` instead of running it."
    ),
    all_commits: bool = typer.Option(False, "--all-commits", help="Experiments of every commit, not only HEAD's."),
) -> None:
    """The original experiments' table from `dvc exp show`: a row per value of PARAM, a value a seed, '-' a blow-up.

    Writes reports/sweep.md and reports/sweep.png, and prints the table.
    """
    from stages.common.atomic_io import atomic_write_bytes, atomic_write_text
    from stages.common.layout import SWEEP_FIGURE_FILE, SWEEP_MARKDOWN_FILE
    from stages.reporting.figures import panels_png
    from stages.reporting.sweep import (
        DEFAULT_COLUMNS,
        Column,
        exp_show_entries,
        parse_exp_show,
        render_sweep,
        runs_from_exp_show,
        sweep_panels,
        sweep_rows,
    )

    try:
        entries = parse_exp_show(from_json.read_text()) if from_json else exp_show_entries(Path.cwd(), all_commits)
        runs = runs_from_exp_show(entries)
        if not runs:
            raise StageError(
                "no experiment with metrics yet: queue some (dvc exp run --queue -S ...) and run them (dvc exp run "
                "--run-all)"
            )
        columns = [Column(name, name) for name in metric] if metric else list(DEFAULT_COLUMNS)
        rows = sweep_rows(runs, params, seed)
    except StageError as error:
        typer.echo(f"ahf sweep: error: {error}", err=True)
        raise typer.Exit(2) from None
    table = render_sweep(rows, params, columns, seed)
    atomic_write_text(SWEEP_MARKDOWN_FILE, f"# Sweep of {', '.join(params)}\n\n{table}")
    atomic_write_bytes(SWEEP_FIGURE_FILE, panels_png(sweep_panels(rows, params, columns)))
    typer.echo(table + f"\n{len(runs)} runs -> {SWEEP_MARKDOWN_FILE}, {SWEEP_FIGURE_FILE}")


def main() -> None:
    app(prog_name="ahf")


if __name__ == "__main__":
    sys.exit(main())
