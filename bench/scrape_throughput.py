"""How fast `ahf scrape` turns a source into data/raw rows (records = submissions + comments).

    python bench/scrape_throughput.py [--prompts 300] [--dump-lines 100000]

(a) reddit: the whole scrape stage (PRAW, `more` expansion, checkpoints) against
    `ahf fake-reddit` serving a simulated subreddit, in its own process as Reddit would be;
    real Reddit is bound by its rate limit (about 1,000 requests per 10 minutes), not by this.
(b) dump: the whole scrape stage importing a generated Pushshift-style comments dump of
    --dump-lines lines (a fifth from other subreddits, a third of the rest replies).
"""

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
import zstandard

PROJECT = Path(__file__).resolve().parents[1]


def write_params(folder: Path, data: dict, n_prompts: int) -> Path:
    params = yaml.safe_load((PROJECT / "params.yaml").read_text())
    params["data"] |= data
    params["simulate"] |= {"n_prompts": n_prompts}
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def timed_scrape(folder: Path) -> tuple[float, dict]:
    """Run the scrape stage in this process (no interpreter start-up in the figure)."""
    os.chdir(folder)
    from stages import scrape

    start = time.perf_counter()
    print(scrape.run(Path("params.yaml")))
    seconds = time.perf_counter() - start
    return seconds, json.loads(Path("reports/scrape.json").read_text())


def start_fake_reddit(folder: Path, *options: str) -> subprocess.Popen:
    """`ahf fake-reddit` in its own process, as Reddit would be; its praw.ini site written to folder."""
    # Started from a background job, it would inherit an ignored SIGINT: the signal that stops it.
    server = subprocess.Popen(
        [sys.executable, "-m", "stages", "fake-reddit", "--port", "0", *options],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines = []
    while (line := server.stdout.readline()) and not line.startswith("user_agent"):
        lines.append(line)
    (folder / "praw.ini").write_text("".join(lines[1:]) + line)
    os.environ |= {"PRAW_ALLOW_ENDPOINT_OVERRIDE": "1", "AHF_AUTHOR_SALT": "bench"}
    return server


def stop_fake_reddit(server: subprocess.Popen) -> str:
    """Ctrl-C it; returns its last words: the requests it answered and the faults it injected."""
    server.send_signal(signal.SIGINT)
    return server.communicate(timeout=60)[0].strip().splitlines()[-1]


def bench_reddit(folder: Path, n_prompts: int) -> None:
    write_params(
        folder, {"source": "reddit", "reddit": {"praw_site": "fake-reddit", "replace_more_limit": None}}, n_prompts
    )
    server = start_fake_reddit(folder)
    try:
        seconds, metrics = timed_scrape(folder)
    finally:
        stop_fake_reddit(server)
    records = metrics["scrape/submissions"] + metrics["scrape/comments"]
    print(
        f"(a) reddit: {records} records ({metrics['scrape/submissions']} submissions) in {seconds:.1f} s"
        f" = {records / seconds:,.0f} records/s, {metrics['scrape/submissions'] / seconds:.1f} submissions/s"
    )


def dump_line(rng: random.Random, index: int) -> bytes:
    submission = f"s{index // 20}"
    comment = {
        "id": f"c{index}",
        "link_id": f"t3_{submission}",
        "parent_id": f"t3_{submission}" if rng.random() < 2 / 3 else f"t1_c{index - 1}",
        "body": " ".join(
            rng.choice(("the", "ship", "whispered", "moon", "slowly", "door", "forgot")) for _ in range(100)
        ),
        "score": rng.randint(1, 500),
        "created_utc": 1609459200 + index,
        "author": f"writer{rng.randint(1, 5000)}",
        "subreddit": "WritingPrompts" if rng.random() < 0.8 else "Poetry",
        "stickied": False,
        "distinguished": None,
        "retrieved_on": 1609600000,
    }
    return json.dumps(comment).encode() + b"\n"


def bench_dump(folder: Path, n_lines: int) -> None:
    rng = random.Random(0)
    path = folder / "RC_bench.zst"
    path.write_bytes(zstandard.ZstdCompressor(level=3).compress(b"".join(dump_line(rng, i) for i in range(n_lines))))
    write_params(folder, {"source": "dump", "dump": {"submissions": [], "comments": [str(path)]}}, 10)
    seconds, metrics = timed_scrape(folder)
    print(
        f"(b) dump: {n_lines:,} lines ({path.stat().st_size / 1e6:.1f} MB compressed) -> "
        f"{metrics['scrape/comments']:,} records"
        f" in {seconds:.1f} s = {n_lines / seconds:,.0f} lines/s, {metrics['scrape/comments'] / seconds:,.0f} records/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=300)
    parser.add_argument("--dump-lines", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as reddit_folder, tempfile.TemporaryDirectory() as dump_folder:
        bench_reddit(Path(reddit_folder), args.prompts)
        bench_dump(Path(dump_folder), args.dump_lines)


if __name__ == "__main__":
    main()
