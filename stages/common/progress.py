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


class IntervalBar(tqdm):
    """A tqdm bar whose postfix waits for the next redraw at the bar's interval.

    tqdm's set_postfix redraws at once by default, so a loop that sets it every step
    redraws every step, whatever mininterval says.
    """

    def set_postfix(self, ordered_dict=None, refresh: bool = False, **postfix) -> None:
        super().set_postfix(ordered_dict, refresh=refresh, **postfix)


def progress_bar(**options) -> tqdm:
    return IntervalBar(mininterval=redraw_interval_s(), **options)
