import random

import numpy as np
import pytest

from stages.simulator import replayed_draws
from stages.simulator.replayed_draws import ReplayedDraws

SPANS = [1, 2, 3, 6, 12, 20, 300, 3600, 10**6, 2**31 + 1, 2**32 - 1, 2**32, 2**32 + 5, 2**40, 2**63]


def mixed_calls(seed: int, n: int) -> list[tuple]:
    """A random mix of every draw the replay offers, with their awkward arguments."""
    rng = random.Random(seed)
    calls = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.3:
            calls.append(("integers", rng.choice(SPANS)))
        elif kind < 0.35:
            calls.append(("integers", 60, 7200))
        elif kind < 0.45:
            calls.append(("pick", tuple(range(rng.choice([1, 4, 10, 20])))))
        elif kind < 0.7:
            calls.append(("random",))
        elif kind < 0.85:
            calls.append(
                (
                    "binomial",
                    rng.choice([0, 1, 2, 5, 40, 1000]),
                    rng.choice([0.0, 1e-9, 0.1, 0.5, 0.6, 0.99999, 1.0, rng.random()]),
                )
            )
        elif kind < 0.9:
            calls.append(("normal", 0.0, rng.choice([0.0, 0.1, 1.0])))
        elif kind < 0.95:
            calls.append(("lognormal", 1.0, rng.choice([0.0, 0.5, 1.2])))
        else:
            calls.append(("poisson", rng.choice([0.0, 2.0, 5.0, 90.0, 1e4])))
    return calls


def numpy_draw(rng: np.random.Generator, call: tuple):
    if call[0] == "pick":
        return call[1][rng.integers(len(call[1]))]
    return getattr(rng, call[0])(*call[1:])


@pytest.mark.parametrize("seed", [0, 1])
def test_every_draw_equals_numpys_and_the_generator_is_handed_back_where_numpy_left_it(seed, monkeypatch):
    monkeypatch.setattr(replayed_draws, "RAWS_PER_REFILL", 64)  # refills inside draws, and in look-ahead
    rng, reference = np.random.default_rng(seed), np.random.default_rng(seed)
    rng.integers(5), reference.integers(5)  # start with a 32-bit half kept
    draws = ReplayedDraws(rng)
    for call in mixed_calls(seed, 20_000):
        assert getattr(draws, call[0])(*call[1:]) == numpy_draw(reference, call), call
    assert draws.hand_back() is rng
    assert rng.bit_generator.state == reference.bit_generator.state
    np.testing.assert_array_equal(rng.random(5), reference.random(5))


def test_a_bad_range_is_refused_like_numpy():
    with pytest.raises(ValueError, match="high <= low"):
        ReplayedDraws(np.random.default_rng(0)).integers(0)


def test_only_pcg64_streams_are_replayed():
    with pytest.raises(ValueError, match="PCG64"):
        ReplayedDraws(np.random.Generator(np.random.MT19937(0)))


def test_a_run_of_numpy_draws_equals_numpys_draws_one_after_another():
    rng, reference = np.random.default_rng(3), np.random.default_rng(3)
    draws = ReplayedDraws(rng)
    for _ in range(3000):
        assert draws.integers(5) == reference.integers(5)  # a half kept across the run
        # poisson(90) rejects now and then: the run must find where it ended.
        run = draws.numpy_draws(("normal", 0.0, 0.1), ("lognormal", 1.0, 1.2), ("poisson", 90.0))
        assert run == [
            float(reference.normal(0.0, 0.1)),
            float(reference.lognormal(1.0, 1.2)),
            float(reference.poisson(90.0)),
        ]
        assert draws.random() == reference.random()
    draws.hand_back()
    assert rng.bit_generator.state == reference.bit_generator.state
