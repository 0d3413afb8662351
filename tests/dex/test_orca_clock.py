"""Adaptive-fee Whirlpools read the Clock sysvar: ``aux_accounts`` lists it, so the market loads
it and the quote decays the variable fee as ``swap_v2`` does; a Clock-only write keeps the
(general) bound quoter, which reads the Clock on every call.

Random pools from ``tests/support/orca_cases.py`` (the cases the SDK differential uses): a quote
over only the accounts ``aux_accounts`` lists must equal the quote over every account the case
has. Without the Clock in the list, adaptive pools whose references decayed quote differently.
"""

from __future__ import annotations

import random

from solarb.dex import orca_whirlpool as ow
from solarb.dex.base import DexError
from tests.support.orca_cases import clock, random_case

AMOUNTS = (1, 10**3, 10**6, 10**9, 10**12, 10**15)


def _outcome(q: object, x: int) -> object:
    try:
        r = q(x)  # type: ignore[operator]
        return (r.amount_in, r.amount_out, r.fee)
    except DexError as exc:
        return type(exc).__name__


def _cases(adaptive: bool, n: int) -> list[tuple[object, dict]]:
    rng = random.Random(20261126 + adaptive)
    out = []
    while len(out) < n:
        case, pool, aux = random_case(rng)
        if pool.adaptive_fee == adaptive:
            out.append((pool, aux, case["a_to_b"]))
    return out


def test_adaptive_pools_list_the_clock_and_quote_from_it() -> None:
    differs = 0
    for pool, aux, a_to_b in _cases(True, 60):
        listed = ow.aux_accounts(pool)
        assert ow.CLOCK_SYSVAR in listed
        only = {k: aux[k] for k in listed if k in aux}
        full = [_outcome(lambda x: ow.quote(pool, aux, x, a_to_b), x) for x in AMOUNTS]
        assert [_outcome(lambda x: ow.quote(pool, only, x, a_to_b), x) for x in AMOUNTS] == full
        no_clock = {k: v for k, v in only.items() if k != ow.CLOCK_SYSVAR}
        differs += [_outcome(lambda x: ow.quote(pool, no_clock, x, a_to_b), x)
                    for x in AMOUNTS] != full  # fmt: skip
    assert differs >= 5  # the Clock matters: without it the fee does not decay


def test_other_pools_do_not_list_the_clock() -> None:
    for pool, _aux, _d in _cases(False, 40):
        assert ow.CLOCK_SYSVAR not in ow.aux_accounts(pool)
        assert ow.reclock(lambda x: x, pool, {}, True) is None  # type: ignore[arg-type]


def test_a_clock_only_write_keeps_the_adaptive_quoter() -> None:
    for pool, aux, a_to_b in _cases(True, 30):
        q = ow.quoter(pool, aux, a_to_b)
        now = int.from_bytes(aux[ow.CLOCK_SYSVAR][32:40], "little", signed=True)
        for later in (now + 1, now + 61, now + 700, now + 100_000):
            aux[ow.CLOCK_SYSVAR] = clock(later)  # the market writes into the same dict
            kept = ow.reclock(q, pool, aux, a_to_b)
            assert kept is q
            fresh = ow.quoter(pool, aux, a_to_b)
            assert [_outcome(kept, x) for x in AMOUNTS] == [_outcome(fresh, x) for x in AMOUNTS]
