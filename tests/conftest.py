"""Shared test helpers: a small project folder, the real `ahf` CLI run in it, and a
local Reddit-speaking server that the real PRAW client is pointed at."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from stages.common.config import SimulateConfig
from stages.simulator.simulator import simulate_subreddit
from stages.sources.fake_reddit import FakeReddit, author_name
from stages.sources.privacy import author_hash

PROJECT = Path(__file__).resolve().parents[1]
# Small enough to run in a second, large enough for every split and tier to be filled.
SMALL_SIMULATION = {"n_prompts": 80, "n_writers": 40}


def default_alpha() -> str:
    """params.yaml's alpha as the stages print it (`alpha 15`)."""
    return f"{yaml.safe_load((PROJECT / 'params.yaml').read_text())['alpha']:g}"


def project_params(**section_overrides: dict) -> dict:
    params = yaml.safe_load((PROJECT / "params.yaml").read_text())
    for section, values in section_overrides.items():
        params.setdefault(section, {}).update(values)
    return params


def write_params(folder: Path, **section_overrides: dict) -> Path:
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(project_params(**section_overrides), sort_keys=False))
    return path


def run_ahf(folder: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "stages", *args], cwd=folder, capture_output=True, text=True, timeout=600, env=env
    )


TEST_SALT = "test-salt"
# A few pages of listing (100 a page), prompts with several stories, some hidden behind `more`.
SERVED_SIMULATION = SimulateConfig(n_prompts=130, n_writers=40)
# Tiny waits, so that retries cost no time; prawcore's own retries of 5xx still sleep 0-2 s.
FAST_REDDIT = {"backoff_s": 0.01, "max_tries": 3, "timeout_s": 2.0, "replace_more_limit": None, "checkpoint_every": 10}


@pytest.fixture(scope="session")
def simulated_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    return simulate_subreddit(SERVED_SIMULATION, "WritingPrompts")


def threaded(frames: tuple[pd.DataFrame, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`frames` with, under each of the first three prompts, what a thread holds besides
    readers' replies to stories: the story's author answering, a bot, a reply to a
    reply, and a reply under the sticky."""
    submissions, comments = frames
    extra = []
    for submission_id in submissions["id"][:3]:
        thread = comments[comments["submission_id"] == submission_id]
        sticky = thread[thread["stickied"]].iloc[0]
        story = thread[~thread["stickied"] & thread["parent_id"].str.startswith("t3_")].iloc[0]
        under_story = {"parent_id": f"t1_{story['id']}", "created_utc": story["created_utc"] + 60}
        for suffix, body, fields in (
            ("a", "Thanks all! Edit: fixed a typo.", under_story | {"author_hash": story["author_hash"]}),
            ("b", "I will be messaging you in 1 day.", under_story | {"author_hash": "remindme_bot"}),
            ("c", "Agreed, the ending was the best part.", under_story | {"author_hash": "reader_c"}),
            ("d", "Right? Loved it.", {"parent_id": f"t1_{story['id']}c", "author_hash": "reader_d"}),
            ("e", "Why was this removed?", {"parent_id": f"t1_{sticky['id']}", "author_hash": "reader_e"}),
        ):
            extra.append(story.to_dict() | {"id": f"{story['id']}{suffix}", "body": body, "score": 2} | fields)
    return submissions, pd.concat([comments, pd.DataFrame(extra)], ignore_index=True)


@pytest.fixture(scope="session")
def threaded_frames(simulated_frames) -> tuple[pd.DataFrame, pd.DataFrame]:
    return threaded(simulated_frames)


# Two threads of about 2,050 stories, like r/WritingPrompts' top ones:
# served 10 comments per morechildren call, each takes some 205 of them to expand.
BIG_THREADS = SimulateConfig(n_prompts=2, n_writers=40, stories_per_prompt=2050, one_story_share=0.0, reply_share=0.0)
BIG_THREAD_MORE_BATCH = 10


@pytest.fixture(scope="session")
def big_thread_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    return simulate_subreddit(BIG_THREADS, "WritingPrompts")


def serve(frames: tuple[pd.DataFrame, pd.DataFrame], **options) -> FakeReddit:
    """A fake Reddit serving `frames`, stingy with stories per page so `more` must be expanded."""
    return FakeReddit("WritingPrompts", *frames, **({"stories_shown": 3, "more_batch": 2} | options))


def praw_env(folder: Path, server: FakeReddit, site: str = "fake", **credentials: str) -> dict:
    """Environment for an `ahf` subprocess whose PRAW reaches `server` through praw.ini site `site`.

    The site holds only the endpoints; credentials come from praw_* variables, as a
    user's would. The user's own praw.ini and praw_* variables are kept out.
    """
    config_home = folder / "xdg-config"
    config_home.mkdir(exist_ok=True)
    (config_home / "praw.ini").write_text(f"[{site}]\noauth_url = {server.url}\nreddit_url = {server.url}\n")
    env = {key: value for key, value in os.environ.items() if not key.lower().startswith("praw_")}
    client_id, client_secret = server.credentials
    return (
        env
        | {
            "XDG_CONFIG_HOME": str(config_home),
            "AHF_AUTHOR_SALT": TEST_SALT,
            "praw_client_id": client_id,
            "praw_client_secret": client_secret,
            "praw_user_agent": "ahf tests by u/nobody",
        }
        | credentials
    )


def reddit_params(folder: Path, site: str = "fake", **reddit: object) -> Path:
    return write_params(folder, data={"source": "reddit", "reddit": {"praw_site": site, **FAST_REDDIT, **reddit}})


def served_comments(server: FakeReddit, salt: str = TEST_SALT) -> pd.DataFrame:
    """The top-level comments the server holds and the direct replies to them, as the scrape
    should store them: not the replies under a sticky, deeper down, a bot's (u_...bot) or
    the story's author's."""
    comments = server.content.comments
    named = comments.assign(author=[author_name(h) for h in comments["author_hash"]])
    top_level = named["parent_id"].str.startswith("t3_")
    story_author = named[top_level & ~named["stickied"]].set_index("id")["author"]
    parent = named["parent_id"].str.removeprefix("t1_")
    reply = ~top_level & parent.isin(story_author.index) & ~named["author"].str.endswith("bot")
    reply &= (named["author"] == "[deleted]") | (named["author"] != parent.map(story_author))
    kept = named[top_level | reply]
    return kept.assign(author_hash=[author_hash(name, salt) for name in kept["author"]]).drop(columns="author")


def served_stories(server: FakeReddit) -> pd.DataFrame:
    comments = served_comments(server)
    return comments[comments["parent_id"].str.startswith("t3_")]


def assert_scraped_all_served(folder: Path, server: FakeReddit) -> None:
    """data/raw holds each served submission, story and direct reply exactly once, as served."""
    submissions = pd.read_parquet(folder / "data/raw/submissions.parquet")
    comments = pd.read_parquet(folder / "data/raw/comments.parquet")
    assert submissions["id"].is_unique and comments["id"].is_unique
    assert sorted(submissions["id"]) == sorted(server.content.submissions["id"])
    expected = served_comments(server).set_index("id").sort_index()
    got = comments.set_index("id").sort_index()
    assert list(got.index) == list(expected.index)
    for column in (
        "submission_id",
        "parent_id",
        "body",
        "score",
        "created_utc",
        "author_hash",
        "stickied",
        "distinguished",
    ):
        assert values(got[column]) == values(expected[column]), column


def values(column: pd.Series) -> list:
    """A column's values with None for every kind of missing (None, NaN)."""
    return [None if pd.isna(value) else value for value in column]


@pytest.fixture
def small_project(tmp_path: Path) -> Path:
    """A folder with params.yaml for a small simulated subreddit."""
    write_params(tmp_path, simulate=SMALL_SIMULATION)
    return tmp_path


# Models small enough to train in seconds: these tests check the stages' code paths
# and contracts; the quality targets are measured by bench/, not here.
TINY_MODEL = {"vocab_size": 400, "n_layer": 2, "n_head": 2, "n_embd": 32, "max_tokens": 96, "max_prompt_tokens": 24}
QUICK_SFT = {
    "max_steps": 30,
    "eval_every": 10,
    "warmup_steps": 5,
    "sample_prompts": 2,
    "sample_max_new_tokens": 12,
    "max_eval_stories": 64,
}
QUICK_REWARD = {"max_steps": 12, "eval_every": 6, "warmup_steps": 2}
QUICK_RL = {
    "steps": 4,
    "prompts_per_step": 2,
    "samples_per_prompt": 2,
    "max_new_tokens": 12,
    "eval_every": 2,
    "eval_prompts": 2,
    "ref_batch_size": 4,
}
QUICK_EVALUATE = {"prompts": 3, "samples_per_prompt": 2, "max_new_tokens": 12}


def copied_project(source: Path, target: Path, paths: tuple[str, ...]) -> Path:
    """`target` holding copies of `source`'s `paths` and the tiny-model params."""
    for path in paths:
        shutil.copytree(source / path, target / path)
    model_params(target)
    return target


def model_params(folder: Path, **section_overrides: dict) -> Path:
    sections = {
        "simulate": SMALL_SIMULATION,
        "model": TINY_MODEL,
        "sft": QUICK_SFT,
        "reward": QUICK_REWARD,
        "rl": QUICK_RL,
        "evaluate": QUICK_EVALUATE,
    }
    for name, values in section_overrides.items():
        sections[name] = sections.get(name, {}) | values
    return write_params(folder, **sections)


@pytest.fixture(scope="session")
def ranked_data(tmp_path_factory) -> Path:
    """data/processed of a small simulated subreddit, built once per session."""
    folder = tmp_path_factory.mktemp("ranked")
    model_params(folder)
    for stage in ("scrape", "rank"):
        result = run_ahf(folder, stage)
        assert result.returncode == 0, result.stderr
    return folder


@pytest.fixture
def model_project(tmp_path: Path, ranked_data: Path) -> Path:
    """A folder holding the small ranked data and tiny-model params, ready for the model stages."""
    return copied_project(ranked_data, tmp_path, ("data",))


@pytest.fixture(scope="session")
def trained_project(tmp_path_factory, ranked_data: Path) -> Path:
    """tokenizer, sft and a pairwise reward model trained once on the small data; read only."""
    folder = copied_project(ranked_data, tmp_path_factory.mktemp("trained"), ("data",))
    for stage in ("tokenizer", "sft", "reward"):
        result = run_ahf(folder, stage)
        assert result.returncode == 0, result.stderr
    return folder


@pytest.fixture(scope="session")
def tiny_tokenizer():
    """A byte-level BPE trained on simulated stories, as the tokenizer stage trains it."""
    from stages.tokenizer import train_bpe_tokenizer

    submissions, comments = simulate_subreddit(SimulateConfig(n_prompts=40, n_writers=20), "WritingPrompts")
    return train_bpe_tokenizer(submissions["title"].tolist() + comments["body"].tolist(), vocab_size=400)


@pytest.fixture
def rl_project(tmp_path: Path, trained_project: Path) -> Path:
    """A writable copy of the trained project: data, tokenizer, SFT and reward models; rl runs next."""
    return copied_project(trained_project, tmp_path, ("data", "models/tokenizer", "models/sft", "models/reward"))


@pytest.fixture(scope="session")
def evaluated_project(tmp_path_factory, ranked_data: Path, trained_project: Path) -> Path:
    """The trained project after rl and evaluate, with every report the report stage reads; read only."""
    folder = copied_project(
        trained_project,
        tmp_path_factory.mktemp("evaluated"),
        ("data", "models/tokenizer", "models/sft", "models/reward", "reports"),
    )
    for name in ("scrape.json", "rank.json"):
        shutil.copy(ranked_data / "reports" / name, folder / "reports" / name)
    for stage in ("rl", "evaluate"):
        result = run_ahf(folder, stage)
        assert result.returncode == 0, result.stderr
    return folder


@pytest.fixture
def evaluate_project(tmp_path: Path, evaluated_project: Path) -> Path:
    """A writable copy of the evaluated project: evaluate or report runs next."""
    return copied_project(evaluated_project, tmp_path, ("data", "models", "reports"))


@pytest.fixture
def sft_project(tmp_path: Path, trained_project: Path) -> Path:
    """A writable copy of the trained project's data, tokenizer and SFT model: reward runs next."""
    return copied_project(trained_project, tmp_path, ("data", "models/tokenizer", "models/sft"))


class RecordingLive:
    """Stands in for dvclive.Live in unit tests of the training loop: records what is logged."""

    def __init__(self):
        self.step, self.logged = 0, []

    def log_metric(self, name: str, value: float) -> None:
        self.logged.append((self.step, name, value))

    def next_step(self) -> None:
        pass
