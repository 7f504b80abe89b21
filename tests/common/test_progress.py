import io

from stages.common.progress import progress_bar


def redraws(steps: int) -> int:
    """How often a bar in a log file is drawn while its loop sets a postfix every step."""
    log = io.StringIO()
    with progress_bar(total=steps, file=log) as progress:
        for step in range(steps):
            progress.update(1)
            progress.set_postfix(loss=f"{1 / (step + 1):.3f}")
    return log.getvalue().count("\r")


def test_setting_a_postfix_every_step_does_not_redraw_every_step():
    assert redraws(500) <= 3  # the first draw, the last, and none between in a 30 s interval


def test_the_postfix_still_shows_at_the_next_draw():
    log = io.StringIO()
    with progress_bar(total=2, file=log) as progress:
        progress.set_postfix(loss="0.125")
        progress.update(2)
    assert "loss=0.125" in log.getvalue()
