"""Time and peak memory of the data stages at scale: scrape (the simulator), rank, and a dump import.

    python bench/data_scale.py [--prompts 110000] [--dump-lines 10000000] [--only scrape,rank,dump]

(a) scrape: the simulator with simulate.n_prompts = --prompts (110,000 prompts is about
    1,000,000 comments), then (b) rank on what it wrote, each stage in its own process.
(c) dump: the scrape stage importing a generated Pushshift-style comments dump of
    --dump-lines lines (four fifths of r/WritingPrompts, a third of those replies, and a
    garbled line every 100,000), written by a streaming compressor into the same temp folder.
Each figure is one run: wall seconds, CPU seconds (user + system) and the peak resident
memory of the stage's process (os.wait4's ru_maxrss). Wall time follows the machine's
load; CPU seconds less so.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
import zstandard

PROJECT = Path(__file__).resolve().parents[1]
BODY_WORDS = ("the", "ship", "whispered", "moon", "slowly", "door", "forgot", "crimson", "stranger", "light")
GARBLED_EVERY = 100_000


@dataclass(frozen=True)
class Measure:
    name: str
    rows: str
    wall_s: float
    cpu_s: float
    peak_gib: float


def write_params(folder: Path, data: dict, simulate: dict) -> None:
    params = yaml.safe_load((PROJECT / "params.yaml").read_text())
    params["data"] |= data
    params["simulate"] |= simulate
    (folder / "params.yaml").write_text(yaml.safe_dump(params))


def measured_stage(folder: Path, stage: str) -> tuple[float, resource.struct_rusage]:
    """Run `ahf <stage>` in folder; its wall seconds and the rusage of that one process."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "stages", stage],
        cwd=folder,
        env=os.environ | {"AHF_AUTHOR_SALT": "bench"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status):
        sys.exit(f"ahf {stage} failed in {folder}")
    return seconds, usage


def measure(folder: Path, stage: str, name: str, rows_key: str) -> Measure:
    seconds, usage = measured_stage(folder, stage)
    metrics = json.loads((folder / f"reports/{stage}.json").read_text())
    return Measure(name, f"{metrics[rows_key]:,}", seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 2**20)


LINE = (
    '{"id": "c%d", "link_id": "t3_s%d", "parent_id": "%s", "body": %s, "score": %d, "created_utc": %d, '
    '"author": "writer%d", "subreddit": "%s", "stickied": false, "distinguished": null, "retrieved_on": 1609600000}\n'
)
LINES_PER_BLOCK = 100_000


def dump_block(rng: np.random.Generator, bodies: list[str], first: int, n: int) -> bytes:
    """n lines from index `first`: a fifth from another subreddit, a third of the rest replies."""
    lines = []
    for index, reply, body, score, author, other in zip(
        range(first, first + n),
        (rng.random(n) < 1 / 3).tolist(),
        rng.integers(len(bodies), size=n).tolist(),
        rng.integers(1, 500, size=n).tolist(),
        rng.integers(1, 5000, size=n).tolist(),
        (rng.random(n) < 0.2).tolist(),
        strict=True,
    ):
        if index % GARBLED_EVERY == GARBLED_EVERY - 1:
            lines.append('{"id": "garbled", "body": "cut of\n')
            continue
        submission = index // 20
        parent = f"t1_c{index - 1}" if reply else f"t3_s{submission}"
        lines.append(
            LINE
            % (
                index,
                submission,
                parent,
                bodies[body],
                score,
                1609459200 + index,
                author,
                "Poetry" if other else "WritingPrompts",
            )
        )
    return "".join(lines).encode()


def write_dump(path: Path, n_lines: int) -> None:
    """Streamed, so the bench itself never holds the dump: a month of Reddit does not fit in memory."""
    rng = np.random.default_rng(0)
    words = np.array(BODY_WORDS)
    bodies = [json.dumps(" ".join(words[rng.integers(len(words), size=rng.integers(20, 121))])) for _ in range(1000)]
    with open(path, "wb") as file, zstandard.ZstdCompressor(level=3).stream_writer(file) as writer:
        for first in range(0, n_lines, LINES_PER_BLOCK):
            writer.write(dump_block(rng, bodies, first, min(LINES_PER_BLOCK, n_lines - first)))


def bench_simulator(folder: Path, n_prompts: int, stages: set[str]) -> list[Measure]:
    write_params(folder, {"source": "simulated"}, {"n_prompts": n_prompts})
    measures = [measure(folder, "scrape", f"scrape, simulator ({n_prompts:,} prompts)", "scrape/comments")]
    if "rank" in stages:
        measures.append(measure(folder, "rank", "rank", "rank/comments_in"))
    return measures


def bench_dump(folder: Path, n_lines: int) -> Measure:
    path = folder / "RC_bench.zst"
    started = time.perf_counter()
    write_dump(path, n_lines)
    print(
        f"wrote {n_lines:,} dump lines ({path.stat().st_size / 2**20:,.0f} MiB) in "
        f"{time.perf_counter() - started:.0f} s",
        flush=True,
    )
    write_params(folder, {"source": "dump", "dump": {"submissions": [], "comments": [str(path)]}}, {})
    return measure(folder, "scrape", f"scrape, dump import ({n_lines:,} lines)", "scrape/comments")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=110_000)
    parser.add_argument("--dump-lines", type=int, default=10_000_000)
    parser.add_argument("--only", default="scrape,rank,dump", help="comma-separated: scrape, rank (needs scrape), dump")
    args = parser.parse_args()
    stages = set(args.only.split(","))
    measures = []
    with tempfile.TemporaryDirectory() as folder:
        if "scrape" in stages:
            measures += bench_simulator(Path(folder), args.prompts, stages)
    with tempfile.TemporaryDirectory() as folder:
        if "dump" in stages:
            measures.append(bench_dump(Path(folder), args.dump_lines))
    print("| stage | rows | wall s | CPU s | peak RSS GiB |")
    print("|---|---:|---:|---:|---:|")
    for row in measures:
        print(f"| {row.name} | {row.rows} | {row.wall_s:.1f} | {row.cpu_s:.1f} | {row.peak_gib:.2f} |")


if __name__ == "__main__":
    main()
