"""Worker processes for the stages' CPU-bound parts that Python runs one core at a time.

Workers are spawned, not forked: a forked child would inherit the locks of the parent's
threads (pyarrow's thread pools) in whatever state they were in. So the code that
starts them must be importable without side effects, and a script that calls it must
guard its main (`if __name__ == "__main__":`), as multiprocessing requires.

Ctrl-C reaches the parent and its workers alike (a terminal signals the whole process
group); the workers ignore it, and the parent's KeyboardInterrupt leaves the pool's
`with`, which ends them: one clean exit, and no worker left behind.
"""

import importlib
import multiprocessing
import os
import signal
from multiprocessing.pool import Pool


def available_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def started_worker(preloaded: tuple[str, ...]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for module in preloaded:
        importlib.import_module(module)


def spawned_pool(processes: int, preloaded: tuple[str, ...] = ()) -> Pool:
    """A pool of `processes` spawned workers; use it in a `with`, which ends them. Each
    worker imports the `preloaded` modules as it starts, not when its first task comes:
    a second of numpy, pandas and pyarrow that then overlaps the parent's own work."""
    return multiprocessing.get_context("spawn").Pool(processes, initializer=started_worker, initargs=(preloaded,))
