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

from stages.errors import StageError

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


def main() -> None:
    app(prog_name="ahf")


if __name__ == "__main__":
    sys.exit(main())
