"""numpy's scalar draws, replayed from raw generator output drawn in bulk: the same
values, at a fraction of numpy's cost per call.

The simulator draws one word at a time (~100 draws a story), and a scalar call into
numpy costs about a microsecond, mostly call overhead: most of a million-comment run.
The draws cannot be batched without changing every value, since which draw comes next
depends on the last one. So ReplayedDraws keeps the exact stream instead: a
np.random.Generator on PCG64 turns 64-bit raw outputs into values by fixed recipes,
and this class applies the same recipes to raws drawn thousands at a time:
- random(): the top 53 bits of one raw, as a double in [0, 1);
- integers(): Lemire's bounded integers on 32-bit halves (below 2**32), the low half of
  a raw first, its high half kept for the next bounded draw (PCG64's has_uint32);
- binomial() by inversion, numpy's algorithm for n * min(p, 1 - p) <= 30.
Distributions with tables or rejection loops (normal, lognormal, poisson, larger
binomials) are drawn by numpy itself, from a second generator moved to the same point
of the stream; a probe of the raw that follows tells how many raws it used (each of
these uses at least one).
Equality with numpy is what tests/sources/test_replayed_draws.py checks, draw by draw;
a numpy upgrade that changes a recipe fails there first (NEP 19 allows it to).

Even a replayed draw is a Python call, and the story writer makes ~100 of them a
story, so its compiled grammar (story_kernel.py) reads the raws itself: window() lends
it the raws as an array with the stream's position, and moved_to() takes the position
back.
"""

import math
from collections.abc import Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")

LOW_32 = 0xFFFF_FFFF
LOW_64 = 0xFFFF_FFFF_FFFF_FFFF
DOUBLE_UNIT = 1.0 / 2**53
RAWS_PER_REFILL = 2**16
# numpy switches binomial from inversion to BTPE above this n * min(p, 1 - p).
INVERSION_LIMIT = 30.0
# Far more than any rejection loop takes; past it the replay has lost numpy's stream.
MAX_RAWS_PER_DRAW = 2**20


def inversion_chances(n: int, p: float) -> tuple[float, ...]:
    """The probabilities of 0, 1, ... successes up to numpy's bound for binomial inversion,
    by numpy's recurrence from q**n (as exp(n log q)), each computed as numpy computes it."""
    q = 1.0 - p
    mean = n * p
    bound = int(min(n, mean + 10.0 * math.sqrt(mean * q + 1)))
    chances = [math.exp(n * math.log(q))]
    for successes in range(1, bound + 1):
        chances.append(((n - successes + 1) * p * chances[-1]) / (successes * q))
    return tuple(chances)


class ReplayedDraws:
    """Draws as rng would make them, from rng's current state; hand_back() moves rng past them."""

    def __init__(self, rng: np.random.Generator):
        state = rng.bit_generator.state
        if state["bit_generator"] != "PCG64":
            raise ValueError(f"replays PCG64 streams only, not {state['bit_generator']}")
        self._rng = rng
        self._source = np.random.PCG64()
        self._source.state = state
        self._numpy = np.random.Generator(np.random.PCG64())
        self._numpy.bit_generator.state = state
        self._numpy_at = 0  # raws the numpy twin has used
        self._advance, self._probe = self._numpy.bit_generator.advance, self._numpy.bit_generator.random_raw
        self._has_half, self._half = bool(state["has_uint32"]), state["uinteger"]
        self._first = 0  # the stream position of _doubles[0]
        self._raws = np.zeros(0, dtype=np.uint64)  # what the lists below are made of
        self._doubles: list[float] = []
        self._low: list[int] = []
        self._high: list[int] = []
        self._next = 0
        self._binomial_key: tuple[int, float] | None = None
        self._binomial_chances: tuple[float, ...] = ()

    def _refill(self, at_least: int = 0) -> None:
        """Draw the next raws, keeping those not used yet (a numpy draw may look ahead)."""
        high, low = (
            np.array(self._high[self._next :], dtype=np.uint64),
            np.array(self._low[self._next :], dtype=np.uint64),
        )
        unused = (high << np.uint64(32)) | low
        self._first += self._next
        raws = np.concatenate([unused, self._source.random_raw(max(RAWS_PER_REFILL, at_least))])
        self._raws = raws
        self._doubles = ((raws >> np.uint64(11)) * DOUBLE_UNIT).tolist()
        self._low = (raws & np.uint64(LOW_32)).tolist()
        self._high = (raws >> np.uint64(32)).tolist()
        self._next = 0

    def _raw(self) -> int:
        """A whole raw, as numpy's 64-bit bounded integers take one."""
        try:
            low = self._low[self._next]
        except IndexError:
            self._refill()
            low = self._low[0]
        raw = (self._high[self._next] << 32) | low
        self._next += 1
        return raw

    def random(self) -> float:
        try:
            value = self._doubles[self._next]
        except IndexError:
            self._refill()
            value = self._doubles[0]
        self._next += 1
        return value

    def _half_32(self) -> int:
        if self._has_half:
            self._has_half = False
            return self._half
        try:
            low = self._low[self._next]
        except IndexError:
            self._refill()
            low = self._low[0]
        self._half = self._high[self._next]
        self._has_half = True
        self._next += 1
        return low

    def integers(self, low: int, high: int | None = None) -> int:
        """An integer in [low, high), or in [0, low) without high."""
        if high is None:
            low, high = 0, low
        span = high - low
        if span <= 0:
            raise ValueError(f"integers: high <= low ({high} <= {low})")
        if span == 1:
            return low  # numpy draws nothing for a range of one
        if span > LOW_32:
            return low + self._bounded_64(span)
        product = self._half_32() * span
        if (product & LOW_32) < span:
            product = self._unbiased_32(product, span)
        return low + (product >> 32)

    def pick(self, items: Sequence[T]) -> T:
        """items[integers(len(items))], in one call: the simulator's draw of a word."""
        span = len(items)
        if span == 1:
            return items[0]
        if self._has_half:  # _half_32, inline: this is the hottest call of a simulation
            self._has_half = False
            product = self._half * span
        else:
            try:
                product = self._low[self._next] * span
            except IndexError:
                self._refill()
                product = self._low[0] * span
            self._half = self._high[self._next]
            self._has_half = True
            self._next += 1
        if (product & LOW_32) < span:
            product = self._unbiased_32(product, span)
        return items[product >> 32]

    def _unbiased_32(self, product: int, span: int) -> int:
        """Lemire's rejection: redraw while the low word falls in the biased sliver."""
        threshold = (2**32 - span) % span
        while (product & LOW_32) < threshold:
            product = self._half_32() * span
        return product

    def _bounded_64(self, span: int) -> int:
        if span == 2**32:
            return self._half_32()
        product = self._raw() * span
        if (product & LOW_64) < span:
            threshold = (2**64 - span) % span
            while (product & LOW_64) < threshold:
                product = self._raw() * span
        return product >> 64

    def binomial(self, n: int, p: float) -> int:
        if n == 0 or p == 0.0:
            return 0
        if p <= 0.5:
            return self._binomial_inversion(n, p) if p * n <= INVERSION_LIMIT else self._numpy_binomial(n, p)
        if (1.0 - p) * n <= INVERSION_LIMIT:
            return n - self._binomial_inversion(n, 1.0 - p)
        return self._numpy_binomial(n, p)

    def _numpy_binomial(self, n: int, p: float) -> int:
        return int(self.numpy_draws(("binomial", n, p))[0])

    def _binomial_inversion(self, n: int, p: float) -> int:
        """Subtract the chances of 0, 1, ... successes from a uniform draw until one covers
        what is left; past numpy's bound, draw again."""
        if self._binomial_key != (n, p):  # numpy keeps the set-up of the last (n, p) too
            self._binomial_key, self._binomial_chances = (n, p), inversion_chances(n, p)
        while True:
            uniform = self.random()
            for successes, chance in enumerate(self._binomial_chances):
                if uniform <= chance:
                    return successes
                uniform -= chance

    def normal(self, loc: float = 0.0, scale: float = 1.0) -> float:
        return self.numpy_draws(("normal", loc, scale))[0]

    def lognormal(self, mean: float = 0.0, sigma: float = 1.0) -> float:
        return self.numpy_draws(("lognormal", mean, sigma))[0]

    def poisson(self, lam: float = 1.0) -> int:
        if lam == 0.0:
            return 0  # numpy draws nothing, and numpy_draws expects at least one raw used
        return int(self.numpy_draws(("poisson", lam))[0])

    def _raw_at(self, position: int) -> int:
        try:
            return (self._high[position - self._first] << 32) | self._low[position - self._first]
        except IndexError:
            self._refill()
            return self._raw_at(position)

    def numpy_draws(self, *calls: tuple) -> list[float]:
        """numpy's own draws, (name, *args) each (normal, lognormal, poisson), one after
        another from this point of the stream, as floats: a run of them moves numpy's twin
        once, not once a draw. These distributions use whole raws only (never a 32-bit
        half), so the half kept for integers() stays valid."""
        start = self._first + self._next
        self._advance(start - self._numpy_at)
        values = [float(getattr(self._numpy, name)(*args)) for name, *args in calls]
        probe = self._probe()
        used = len(calls)  # mostly one raw each; rejection loops take more
        while self._raw_at(start + used) != probe:
            used += 1
            if used > MAX_RAWS_PER_DRAW:
                raise RuntimeError(f"numpy's {calls} left the replayed stream: a bug in ReplayedDraws")
        self._numpy_at = start + used + 1
        self._next = start + used - self._first
        return values

    def window(self, margin: int) -> tuple[np.ndarray, int, bool, int]:
        """The raws (uint64), the position of the next raw in them, and the kept half:
        what the draws read. At least `margin` raws lie past the position; the array
        holds until the next draw made here or moved_to()."""
        if len(self._low) - self._next < margin:
            self._refill(margin)
        return self._raws, self._next, self._has_half, self._half

    def moved_to(self, at: int, has_half: bool, half: int) -> None:
        """Take back the position in window()'s raws, and the kept half, reached there."""
        self._next, self._has_half, self._half = at, has_half, half

    def hand_back(self) -> np.random.Generator:
        """The generator given, moved past every draw replayed, as if it had made them."""
        moved = np.random.PCG64()
        moved.state = self._source.state
        moved.advance(self._next - len(self._low))
        self._rng.bit_generator.state = moved.state | {"has_uint32": int(self._has_half), "uinteger": self._half}
        return self._rng
