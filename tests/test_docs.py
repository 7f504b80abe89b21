"""The manual against the code: every `ahf` and `dvc` command in a fenced block of
README.md or docs/ names a real command and only options its --help lists, every bench
script it quotes takes the flags it is given, and every relative link points to a file
and a heading that exist. The README stays a front door: short, the two commands early.
"""

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stages.cli import app

PROJECT = Path(__file__).resolve().parents[1]
README = PROJECT / "README.md"
DOCS = PROJECT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
README_MAX_LINES = 200
TWO_COMMANDS_WITHIN = 60

FENCE = re.compile(r"^\s*```\s*(\w*)\s*$")
SHELL_FENCES = {"", "bash", "sh", "shell", "console"}
# A line worth parsing as shell: it runs ahf, dvc or a bench script somewhere in it.
RUNS_SOMETHING_CHECKED = re.compile(r"(^|[\s(&|;])(ahf|dvc)(\s|$)|bench/\w+\.py")
SEPARATORS = {"&&", "||", ";", "|", "&", "(", ")", ">", ">>", "<", ">&", "2>"}
ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
# dvc commands whose first word is a group, so that the command is two words: `dvc exp run`.
DVC_GROUPS = {"exp", "experiments", "queue", "metrics", "plots", "params", "stage", "remote", "cache", "data"}
PYTHONS = {"python", "python3", ".venv/bin/python"}
BENCH_SCRIPT = re.compile(r"^bench/(\w+)\.py$")

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
INLINE_CODE = re.compile(r"`[^`]*`")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


@dataclass(frozen=True)
class Command:
    page: Path
    line: int
    words: tuple[str, ...]

    @property
    def id(self) -> str:
        text = " ".join(self.words)
        return f"{self.page.relative_to(PROJECT)}:{self.line}: {text[:70]}"


def fenced_lines(page: Path) -> list[tuple[int, str, str]]:
    """(line number, fence language, text) of every line inside a fenced block."""
    lines, language = [], None
    for number, text in enumerate(page.read_text().splitlines(), start=1):
        fence = FENCE.match(text)
        if fence:
            language = fence.group(1) if language is None else None
        elif language is not None:
            lines.append((number, language, text))
    return lines


def shell_lines(page: Path) -> list[tuple[int, str]]:
    """The shell lines of a page's fenced blocks: a console block's `$ ` prompt taken off
    (its other lines are output), `\\` continuations joined, each at its first line."""
    joined, pending, start = [], "", 0
    for number, language, text in fenced_lines(page):
        if language not in SHELL_FENCES:
            continue
        if language == "console":
            if not text.startswith("$ "):
                continue
            text = text[2:]
        if not pending:
            start = number
        if text.rstrip().endswith("\\"):
            pending += text.rstrip()[:-1] + " "
            continue
        joined.append((start, (pending + text).strip()))
        pending = ""
    return joined


def simple_commands(text: str) -> list[list[str]]:
    """The simple commands of a shell line: split at &&, |, ;, &, redirections and
    parentheses (so `$(dvc exp list)` is a command of its own), comments dropped and
    leading VAR=value assignments taken off."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands, words = [], []
    for token in lexer:
        if token in SEPARATORS:
            commands.append(words)
            words = []
        elif token != "$":  # the sigil of `$(...)`, whose command follows the parenthesis
            words.append(token)
    commands.append(words)
    for words in commands:
        while words and ENV_ASSIGNMENT.match(words[0]):
            words.pop(0)
    return [words for words in commands if words]


def commands_of(program: str) -> list[Command]:
    found = []
    for page in PAGES:
        for line, text in shell_lines(page):
            if not RUNS_SOMETHING_CHECKED.search(text):
                continue
            for words in simple_commands(text):
                if words[0] == program or (program == "python" and words[0] in PYTHONS):
                    found.append(Command(page, line, tuple(words)))
    return found


def options(words: tuple[str, ...]) -> list[str]:
    """The option names a command uses: `--metric`, `-S`; `--name=value` counts as `--name`."""
    return [word.split("=", 1)[0] for word in words if word.startswith("-") and word != "-"]


def lists_option(help_text: str, option: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", help_text) is not None


def inline_bench_commands() -> list[Command]:
    """`python bench/x.py --flag` quoted in running text: its flags must be true too."""
    found = []
    for page in PAGES:
        fenced = False
        for number, text in enumerate(page.read_text().splitlines(), start=1):
            if FENCE.match(text):
                fenced = not fenced
                continue
            for span in INLINE_CODE.findall(text) if not fenced else []:
                words = tuple(shlex.split(span.strip("`")))
                if words and words[0] in PYTHONS:
                    found.append(Command(page, number, words))
    return found


AHF_COMMANDS = commands_of("ahf")
DVC_COMMANDS = commands_of("dvc")
BENCH_COMMANDS = [
    command
    for command in commands_of("python") + inline_bench_commands()
    if len(command.words) > 1 and BENCH_SCRIPT.match(command.words[1])
]


def test_the_docs_quote_commands_of_each_kind():
    assert AHF_COMMANDS and DVC_COMMANDS and BENCH_COMMANDS


@cache
def ahf_help(command: str | None) -> tuple[int, str]:
    # A wide terminal, so that no option name is wrapped or cut in the help's table.
    result = CliRunner().invoke(app, [command, "--help"] if command else ["--help"], env={"COLUMNS": "200"})
    return result.exit_code, result.output


@pytest.mark.parametrize("command", AHF_COMMANDS, ids=lambda command: command.id)
def test_an_ahf_command_of_the_docs_exists_with_the_options_it_is_given(command):
    arguments = command.words[1:]
    name = next((word for word in arguments if not word.startswith("-")), None)
    exit_code, help_text = ahf_help(name)
    assert exit_code == 0, f"`ahf {name} --help` failed: is {name!r} one of ahf's commands?\n{help_text}"
    missing = [option for option in options(arguments) if not lists_option(help_text, option)]
    assert not missing, f"`ahf {name or ''}` has no option {', '.join(missing)}"


def dvc_command_words(arguments: tuple[str, ...]) -> tuple[str, ...]:
    """`dvc exp run -S ...` -> (exp, run); `dvc repro --force scrape` -> (repro,)."""
    first = arguments[0]
    if first in DVC_GROUPS and len(arguments) > 1 and not arguments[1].startswith("-"):
        return (first, arguments[1])
    return (first,)


@cache
def dvc_help(words: tuple[str, ...]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dvc", *words, "--help"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ | {"DVC_NO_ANALYTICS": "1", "COLUMNS": "200"},
    )


@pytest.mark.parametrize("command", DVC_COMMANDS, ids=lambda command: command.id)
def test_a_dvc_command_of_the_docs_exists_with_the_options_it_is_given(command):
    arguments = command.words[1:]
    words = dvc_command_words(arguments)
    result = dvc_help(words)
    assert result.returncode == 0, f"`dvc {' '.join(words)} --help` failed:\n{result.stderr[-2000:]}"
    missing = [option for option in options(arguments[len(words) :]) if not lists_option(result.stdout, option)]
    assert not missing, f"`dvc {' '.join(words)}` has no option {', '.join(missing)}"


@pytest.mark.parametrize("command", BENCH_COMMANDS, ids=lambda command: command.id)
def test_a_bench_script_of_the_docs_exists_and_takes_the_flags_it_is_given(command):
    script = PROJECT / command.words[1]
    assert script.is_file(), f"{command.words[1]} not found"
    source = script.read_text()
    missing = [
        option
        for option in options(command.words[2:])
        if not re.search(rf"add_argument\(\s*[\"']{re.escape(option)}[\"']", source)
    ]
    assert not missing, f"{command.words[1]} has no flag {', '.join(missing)}"


def test_the_readme_is_a_short_front_door_with_the_two_commands_early():
    lines = README.read_text().splitlines()
    assert len(lines) <= README_MAX_LINES
    first = "\n".join(lines[:TWO_COMMANDS_WITHIN])
    assert "make run" in first and "make test" in first


def test_the_readme_links_every_page_of_the_docs():
    linked = {PROJECT / target.partition("#")[0] for target in LINK.findall(prose(README))}
    assert not [page.name for page in PAGES[1:] if page not in linked]


def prose(page: Path) -> str:
    """A page without its fenced blocks and inline code, where links are not links."""
    kept, fenced = [], False
    for text in page.read_text().splitlines():
        if FENCE.match(text):
            fenced = not fenced
        elif not fenced:
            kept.append(INLINE_CODE.sub("", text))
    return "\n".join(kept)


def github_anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation but - and _ dropped, spaces to -."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@cache
def anchors(page: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    found = set()
    for text in prose(page).splitlines():
        heading = HEADING.match(text)
        if not heading:
            continue
        anchor = github_anchor(heading.group(2))
        # A repeated heading gets -1, -2, ... after its first.
        found.add(f"{anchor}-{seen[anchor]}" if anchor in seen else anchor)
        seen[anchor] = seen.get(anchor, 0) + 1
    return frozenset(found)


LINKS = [
    (page, target)
    for page in PAGES
    for target in LINK.findall(prose(page))
    if not re.match(r"^[a-z]+:", target)  # http:, https:, mailto: are not checked here
]


@pytest.mark.parametrize(("page", "target"), LINKS, ids=[f"{p.relative_to(PROJECT)}->{t}" for p, t in LINKS])
def test_a_relative_link_points_to_a_file_and_heading_that_exist(page, target):
    path, _, anchor = target.partition("#")
    linked = (page.parent / path).resolve() if path else page
    assert linked.exists(), f"{page.name}: {target}: no file {path}"
    if anchor:
        assert linked.suffix == ".md", f"{page.name}: {target}: an anchor into a file that is not Markdown"
        assert anchor in anchors(linked), f"{page.name}: {target}: {linked.name} has no heading for #{anchor}"
