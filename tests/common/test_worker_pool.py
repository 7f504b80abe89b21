import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stages.common.worker_pool import interrupts_held, spawned_pool


def blocked_signals(pid: int | str = "self") -> set[int]:
    status = Path(f"/proc/{pid}/status").read_text()
    mask = int(status.split("SigBlk:")[1].split()[0], 16)
    return {number for number in range(1, 65) if mask >> (number - 1) & 1}


def sigint_in_this_worker(_) -> tuple[bool, bool]:
    return signal.getsignal(signal.SIGINT) == signal.SIG_IGN, signal.SIGINT in blocked_signals()


def test_a_ctrl_c_while_held_is_recorded_and_not_raised():
    with interrupts_held() as interrupted:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # where Python would raise it
    assert interrupted
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.SIGINT not in blocked_signals()


@pytest.mark.slow
def test_what_starts_while_held_starts_with_sigint_blocked():
    # a worker is still starting Python when a Ctrl-C may come; blocked, it cannot interrupt that
    code = "print(open('/proc/self/status').read().split('SigBlk:')[1].split()[0])"
    with interrupts_held():
        child_mask = int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout, 16)
    assert child_mask >> (signal.SIGINT - 1) & 1


def test_a_started_worker_ignores_sigint_and_no_longer_blocks_it():
    with spawned_pool(1) as pool:
        ignored, blocked = pool.apply(sigint_in_this_worker, (None,))
    assert ignored and not blocked
    assert signal.SIGINT not in blocked_signals()  # the parent's mask is as it was
