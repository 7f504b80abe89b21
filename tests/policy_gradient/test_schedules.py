import itertools
import math

import pytest

from stages.policy_gradient.schedules import alpha_at, lr_factor, warmup_factor


def test_alpha_schedule_spreads_values_evenly_and_a_constant_otherwise():
    schedule = [90, 70, 50, 30, 20]
    seen = [alpha_at(step, 10, 5.0, schedule) for step in range(10)]
    assert seen == [90, 90, 70, 70, 50, 50, 30, 30, 20, 20]
    assert alpha_at(3, 10, 5.0, None) == 5.0
    assert alpha_at(99, 10, 5.0, schedule) == 20  # past the end holds the last value


def test_warmup_rises_linearly_to_the_full_rate_then_holds():
    assert [warmup_factor(update, 3) for update in range(5)] == [0.25, 0.5, 0.75, 1.0, 1.0]
    assert warmup_factor(0, 0) == 1.0


def test_lr_warms_up_then_falls_by_cosine_to_near_zero_or_holds():
    cosine = [lr_factor(update, 2, 6, "cosine") for update in range(6)]
    assert cosine[:2] == [1 / 3, 2 / 3]
    assert cosine[2] == pytest.approx(0.5 * (1 + math.cos(math.pi / 5)))
    assert all(later < earlier for earlier, later in itertools.pairwise(cosine[2:]))
    assert 0.0 < cosine[-1] < 0.1  # the last update still moves, a little
    assert [lr_factor(update, 2, 6, "constant") for update in range(6)] == [1 / 3, 2 / 3, 1, 1, 1, 1]
    with pytest.raises(ValueError, match="linear"):
        lr_factor(3, 2, 6, "linear")
