"""The C sizing search's optional ``retired`` list (``solarb.native._sizing.search``, 12th
argument): the same result as without it, and the Quotes the search probed handed to the list
(one tuple per search, the very objects the steps made) instead of being freed in the call; an
error leaves the list as it was."""

from __future__ import annotations

import random
from typing import Any

import pytest

from solarb.dex.base import DexError, InsufficientLiquidity, Quote
from solarb.strategy import cycles as cy
from solarb.strategy.cycles import REFINE_MIN_WIDTH, SIZING_WIDTH_PPM

KERNEL = cy._SIZING
pytestmark = pytest.mark.skipif(KERNEL is None, reason="sizing kernel disabled (SOLARB_NATIVE=0)")


def _hop(r_in: int, r_out: int, fee_bps: int, made: list[Quote], max_in: int | None = None) -> Any:
    def q(x: int) -> Quote:
        if max_in is not None and x > max_in:
            raise InsufficientLiquidity("too large")
        fee = x * fee_bps // 10_000
        out = Quote(x, r_out * (x - fee) // (r_in + x - fee), fee)
        made.append(out)
        return out

    return q


def _search(steps: tuple[Any, ...], hi: int, seed: int | None, *retired: Any) -> Any:
    assert KERNEL is not None
    return KERNEL.search(steps, 1, hi, 1.01, seed, SIZING_WIDTH_PPM, SIZING_WIDTH_PPM, 8, None,
                         REFINE_MIN_WIDTH, DexError, *retired)  # fmt: skip


def test_retired_quotes_same_result() -> None:
    rng = random.Random(5)
    for _ in range(200):
        n = rng.choice((2, 3))
        pools = [(rng.randrange(10**9, 10**13), rng.randrange(10**9, 10**13), rng.randrange(0, 60),
                  rng.choice((None, rng.randrange(10**6, 10**12)))) for _ in range(n)]  # fmt: skip
        hi, seed = rng.randrange(1, 10**12), rng.choice((None, rng.randrange(1, 10**12)))
        plain_made: list[Quote] = []
        plain = _search(tuple(_hop(*p[:3], plain_made, p[3]) for p in pools), hi, seed)
        made: list[Quote] = []
        retired: list[object] = ["kept"]
        got = _search(tuple(_hop(*p[:3], made, p[3]) for p in pools), hi, seed, retired)
        assert got == plain and made == plain_made  # the same probes, the same answer
        assert retired[0] == "kept"  # appended to, never emptied
        held = [q for t in retired[1:] for q in t]  # type: ignore[union-attr]
        assert len(retired) <= 2 and all(isinstance(t, tuple) for t in retired[1:])
        # every Quote of a complete chain the search recorded, by identity
        assert all(any(q is m for m in made) for q in held)
        if got is not None and got[4] is not None:
            assert all(any(q is h for h in held) for q in got[4])
        assert _search(tuple(_hop(*p[:3], [], p[3]) for p in pools), hi, seed, None) == plain


def test_retired_argument_errors() -> None:
    made: list[Quote] = []
    steps = (_hop(10**12, 10**12, 25, made), _hop(10**12, 10**12, 25, made))
    with pytest.raises(TypeError):
        _search(steps, 10**9, None, ())  # not a list

    def boom(x: int) -> Quote:
        raise ValueError("not a DexError")

    retired: list[object] = []
    with pytest.raises(ValueError):
        _search((steps[0], boom), 10**9, None, retired)
    assert retired == []  # an error hands nothing over
