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


def register(name: str, help_text: str) -> None:
    def command(params: Path = PARAMS_OPTION) -> None:
        quiet_libraries()
        module = importlib.import_module(f"stages.{name}")
        try:
            summary = module.run(params)
        except StageError as error:
            typer.echo(f"ahf {name}: error: {error}", err=True)
            raise typer.Exit(2) from None
        typer.echo(summary)

    app.command(name=name, help=help_text)(command)


for stage_name, stage_help in STAGES.items():
    register(stage_name, stage_help)


@app.command(name="fake-reddit")
def fake_reddit(
    params: Path = PARAMS_OPTION,
    port: int = typer.Option(8765, help="Port on 127.0.0.1 (0: any free one)."),
    site: str = typer.Option("fake-reddit", help="Name of the praw.ini site it prints."),
) -> None:
    """Serve the simulated subreddit (params' simulate section) through a local Reddit-speaking API."""
    from stages.common.config import DataConfig, SimulateConfig, load_section
    from stages.sources.fake_reddit import simulated_reddit

    try:
        data = load_section(params, "data", DataConfig)
        server = simulated_reddit(load_section(params, "simulate", SimulateConfig), data.subreddit, port=port)
    except StageError as error:
        typer.echo(f"ahf fake-reddit: error: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"Serving r/{data.subreddit} at {server.url} (Ctrl-C stops). A praw.ini site for it:\n")
    typer.echo(server.praw_ini_site(site))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        typer.echo("stopped")


def main() -> None:
    app(prog_name="ahf")


if __name__ == "__main__":
    sys.exit(main())
