"""What faults cost a scrape of big threads: wall time and requests sent per record.

    python bench/scrape_faults.py [--threads 1] [--stories 2050] [--fault-rate 0.15] [--runs 3]
                                  [--backoff-s 2.0] [--retry-after 1]

`ahf scrape` (PRAW, request retries, checkpoints; its start-up included, about 2 s)
against `ahf fake-reddit` in its own process, serving --threads simulated threads of about --stories top-level
comments, 10 per morechildren call (some 200 calls a thread), first with no faults,
then with --fault-rate of the requests answered 429, 500 or 503 (Retry-After on the
429s). The waits are data.reddit's (params.yaml, or --backoff-s), so with faults most
of the time is waiting: scrape/retry_wait_s says how much. Reported: each run, then the
median of --runs. records = submissions + comments stored; requests = all the server
answered, the token and the faults included.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scrape_throughput import start_fake_reddit, stop_fake_reddit, write_params

MORE_BATCH = 10


def timed_scrape(folder: Path) -> tuple[float, dict]:
    """`ahf scrape` in its own process: PRAW reads praw.ini once per process, and each run has its own server."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "stages", "scrape"],
        cwd=folder,
        env=os.environ,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start, json.loads((folder / "reports/scrape.json").read_text())


def scrape_once(threads: int, stories: int, fault_rate: float, reddit: dict, retry_after: int) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        write_params(
            folder,
            {"source": "reddit", "reddit": {"praw_site": "fake-reddit", "replace_more_limit": None} | reddit},
            threads,
        )
        server = start_fake_reddit(
            folder,
            "--stories-per-prompt",
            str(stories),
            "--more-batch",
            str(MORE_BATCH),
            "--fault-rate",
            str(fault_rate),
            "--retry-after",
            str(retry_after),
        )
        try:
            seconds, metrics = timed_scrape(folder)
        finally:
            last_words = stop_fake_reddit(server)
    records = metrics["scrape/submissions"] + metrics["scrape/comments"]
    requests = int(re.search(r"after (\d+) requests", last_words)[1])
    return {
        "seconds": seconds,
        "records": records,
        "requests": requests,
        "requests_per_record": requests / records,
        "retries": metrics["scrape/retries"],
        "wait_s": metrics["scrape/retry_wait_s"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--stories", type=float, default=2050)
    parser.add_argument("--fault-rate", type=float, default=0.15)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backoff-s", type=float, help="data.reddit.backoff_s (default: params.yaml's)")
    parser.add_argument("--retry-after", type=int, default=1, help="the Retry-After of the server's 429s")
    args = parser.parse_args()
    reddit = {"backoff_s": args.backoff_s} if args.backoff_s is not None else {}
    for fault_rate in (0.0, args.fault_rate):
        runs = [scrape_once(args.threads, args.stories, fault_rate, reddit, args.retry_after) for _ in range(args.runs)]
        for run in runs:
            print(
                f"  faults {fault_rate:.0%}: {run['seconds']:.1f} s, {run['records']} records, {run['requests']} "
                "requests"
                f" ({run['requests_per_record']:.3f} a record), {run['retries']} retries, {run['wait_s']:.1f} s waited"
            )
        median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        print(
            f"faults {fault_rate:.0%}, median of {args.runs}: {median['seconds']:.1f} s wall, "
            f"{median['requests_per_record']:.3f} requests a record, {median['retries']:.0f} retries, "
            f"{median['wait_s']:.1f} s waited"
        )


if __name__ == "__main__":
    main()
