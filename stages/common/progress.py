"""Progress bars that redraw often on a terminal and rarely in a log file.

Redirected to a file (`dvc repro > log`, CI), a bar redrawn ten times a second would
bury everything else under carriage returns.
"""

import sys

from tqdm import tqdm

TERMINAL_REDRAW_S = 0.1
LOG_REDRAW_S = 30.0


def redraw_interval_s() -> float:
    return TERMINAL_REDRAW_S if sys.stderr.isatty() else LOG_REDRAW_S


def progress_bar(**options) -> tqdm:
    return tqdm(mininterval=redraw_interval_s(), **options)
