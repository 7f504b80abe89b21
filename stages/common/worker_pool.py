"""Worker processes for the stages' CPU-bound parts that Python runs one core at a time.

Workers are spawned, not forked: a forked child would inherit the locks of the parent's
threads (pyarrow's thread pools) in whatever state they were in. So the code that
starts them must be importable without side effects, and a script that calls it must
guard its main (`if __name__ == "__main__":`), as multiprocessing requires.

Ctrl-C reaches the parent and its workers alike (a terminal signals the whole process
group); the workers ignore it, and the parent's KeyboardInterrupt leaves the pool's
`with`, which ends them: one clean exit, and no worker left behind.

While the pool starts, a Ctrl-C is held until every worker is launched, for two reasons.
A worker must ignore it from its first instruction, not from when its initializer runs:
one that is still starting Python (importing site, a second on a busy machine) would
print a KeyboardInterrupt traceback of its own. So SIGINT is blocked while they are
spawned (a blocked signal stays blocked across fork and exec) and each worker unblocks
it once it ignores it, which discards one held. And the parent must not be interrupted
between launching a worker and sending it its start-up data, or that worker fails
reading it (EOFError, another traceback); blocking the main thread is not enough for
that, as the kernel hands a process's signal to any thread not blocking it (tqdm's
monitor, pyarrow's pool) and Python then interrupts the main thread anyway.
"""

import importlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing import resource_tracker
from multiprocessing.pool import Pool


def available_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def started_worker(preloaded: tuple[str, ...]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    for module in preloaded:
        importlib.import_module(module)


def spawned_pool(processes: int, preloaded: tuple[str, ...] = ()) -> Pool:
    """A pool of `processes` spawned workers; use it in a `with`, which ends them. Each
    worker imports the `preloaded` modules as it starts, not when its first task comes:
    a second of numpy, pandas and pyarrow that then overlaps the parent's own work."""
    with interrupts_held() as interrupted:
        pool = multiprocessing.get_context("spawn").Pool(processes, initializer=started_worker, initargs=(preloaded,))
    if interrupted:
        try:
            signal.raise_signal(signal.SIGINT)  # again, under the handler it had
        except BaseException:
            pool.terminate()  # the caller's `with` never began, so end the workers here
            raise
    return pool


@contextmanager
def interrupts_held() -> Iterator[list]:
    """SIGINT blocked in this thread (and so in what it spawns), and a Ctrl-C recorded in
    the list it yields rather than raised, until the `with` ends."""
    interrupted: list = []
    if threading.current_thread() is not threading.main_thread():
        yield interrupted  # only the main thread can set a handler; a pool started elsewhere starts plain
        return
    # multiprocessing starts its resource tracker with the first lock a pool makes, and
    # then unblocks SIGINT outright rather than restoring the mask: so start it first.
    resource_tracker.ensure_running()
    handler = signal.signal(signal.SIGINT, lambda *_: interrupted.append(True))
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield interrupted
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # one still pending is recorded here
        signal.signal(signal.SIGINT, handler)
