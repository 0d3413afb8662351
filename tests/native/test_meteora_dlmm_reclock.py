"""``meteora_dlmm.reclock``: a bound quoter brought to a new Clock quotes exactly as one bound anew.

The market writes the Clock into the same ``aux`` dict a kept quoter was bound with; ``reclock``
must then give what ``quoter(state, aux, a_to_b)`` gives now: the same ``Quote`` (amount_in,
amount_out, fee, arrays) or the same error, for every amount, as the Clock crosses the filter
and decay periods of a pair whose volatility makes the variable fee depend on it. Pools: the real
JLP/hubSOL dump, the bench workload's pairs given a volatility, random pairs (Token-2022 fees,
permissioned activation by slot or time, limit orders: quoters the kernel does not bind).
"""

from __future__ import annotations

import random
from dataclasses import replace
from functools import partial
from typing import Any

import pytest

from solarb.dex import base
from solarb.dex import meteora_dlmm as dl
from solarb.dex import meteora_dlmm_layout as lay
from tests.native.test_meteora_dlmm import (
    KERNEL,
    U64_MAX,
    Aux,
    _amounts,
    _bench_pools,
    _clock,
    _jlp,
    _outcome_of,
    _random_pair,
)

pytestmark = pytest.mark.skipif(KERNEL is None, reason="kernel not built or SOLARB_NATIVE=0")

# seconds after the pair's last_update_timestamp: before it, inside the filter period, at its
# end, inside the decay period, at its end, far after, and back (the Clock never runs backwards
# on chain, but a reclocked quoter must not care)
_DTS = (0, -100, 5, 29, 30, 31, 300, 599, 600, 601, 10**6, 0, 17)


def _python(state: lay.LbPair, aux: Aux, x: int, a_to_b: bool, mp: pytest.MonkeyPatch) -> Any:
    """The Python walk's outcome (the reference the kernel is tested against)."""
    mp.setattr(dl, "_NATIVE", None)
    try:
        return _outcome_of(lambda v: dl.quote(state, aux, v, a_to_b), x)
    finally:
        mp.setattr(dl, "_NATIVE", KERNEL)


def _volatile(state: lay.LbPair, va: int, vr: int, shift: int, last: int) -> lay.LbPair:
    """``state`` with a volatility the Clock decays (references ``shift`` bins away)."""
    return replace(state, volatility_accumulator=va, volatility_reference=vr,
                   index_reference=state.active_id + shift, last_update_timestamp=last)  # fmt: skip


def _pairs() -> list[tuple[lay.LbPair, Aux]]:
    out = [_jlp()]
    _w, bench = _bench_pools(20)
    for i, (state, aux) in enumerate(bench):
        t = dl.clock_fields(aux[dl.CLOCK_SYSVAR])[3] - 40  # type: ignore[index]
        out.append((_volatile(state, 60_000 + 20_000 * i, 30_000, (-1) ** i * (3 + i), t), aux))
    return out


def _reclocked_run(
    state: lay.LbPair, aux0: Aux, a_to_b: bool, amounts: list[int], mp: pytest.MonkeyPatch,
    python_every: int,
) -> tuple[int, int]:  # fmt: skip
    """Bind at the first Clock, then for each Clock of ``_DTS`` reclock the last quoter and
    require its outcomes to equal a fresh binding's (and, every ``python_every``-th amount, the
    Python walk's). ``(reclocks, amounts whose outcome the new Clock changed)``."""
    aux = dict(aux0)  # one dict written in place, as the market writes an entry's aux
    last = state.last_update_timestamp
    aux[dl.CLOCK_SYSVAR] = _clock(last + _DTS[0])
    q = dl.quoter(state, aux, a_to_b)
    assert type(q) is dl._BOUND, "the kernel binds this pair"
    before = [_outcome_of(q, x) for x in amounts]
    n = moved = 0
    for dt in _DTS[1:]:
        aux[dl.CLOCK_SYSVAR] = _clock(last + dt, slot=1 + n)
        r = dl.reclock(q, state, aux, a_to_b)
        assert r is not None and r is not q and type(r) is dl._BOUND
        fresh = dl.quoter(state, aux, a_to_b)
        got = [_outcome_of(r, x) for x in amounts]
        assert got == [_outcome_of(fresh, x) for x in amounts], (state.address, a_to_b, dt)
        for i in range(0, len(amounts), python_every):
            assert got[i] == _python(state, aux, amounts[i], a_to_b, mp), (amounts[i], dt)
        moved += sum(g != b for g, b in zip(got, before))
        q, before, n = r, got, n + 1
    return n, moved


def test_reclocked_quoters_quote_as_fresh_bindings(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(7)
    reclocks = moved = 0
    for state, aux in _pairs():
        for a_to_b in (True, False):
            amounts = list(_amounts(rng, 10**12, 40))
            n, m = _reclocked_run(state, aux, a_to_b, amounts, monkeypatch, 5)
            reclocks += n
            moved += m
    assert reclocks >= 2 * 5 * (len(_DTS) - 1)
    # the Clock changes quotes (variable fee): a quoter left at its old ``now`` fails above
    assert moved > 200


def test_reclock_after_the_walk_was_extended(monkeypatch: pytest.MonkeyPatch) -> None:
    """A quoter whose walk planned more stretches (large amounts) before and after reclocking:
    the reclocked one reads the walk's current plan, as a fresh binding does."""
    state, aux = _pairs()[1]
    for a_to_b in (True, False):
        small, large = [10**3, 10**6], [10**11, 10**12, 5 * 10**12, U64_MAX]
        _reclocked_run(state, aux, a_to_b, small, monkeypatch, 1)
        _reclocked_run(state, aux, a_to_b, small + large + small, monkeypatch, 1)


def test_general_quoters_are_kept_and_refusals(monkeypatch: pytest.MonkeyPatch) -> None:
    """Quoters the kernel does not bind (Token-2022 fees, permissioned activation) read the Clock
    from ``aux`` on every call: reclock keeps them, and they quote as a fresh binding (activation
    by time crossed by the Clock included). No Clock, a short Clock, the kernel off, or a general
    quoter where the kernel would now bind: None (bind anew)."""
    rng = random.Random(11)
    kept = bound = 0
    cases: list[tuple[lay.LbPair, Aux]] = [_random_pair(rng) for _ in range(60)]
    state, aux = _pairs()[1]
    t = state.last_update_timestamp
    for by_ts, point in ((1, t + 30), (0, 5), (1, t - 1)):
        flags = {"pair_type": 1, "activation_type": by_ts, "activation_point": point}
        cases.append((replace(state, **flags), aux))
    for state, aux0 in cases:
        aux = dict(aux0)
        for a_to_b in (True, False):
            q = dl.quoter(state, aux, a_to_b)
            for dt in (0, 31, 601, 10**6):
                aux[dl.CLOCK_SYSVAR] = _clock(state.last_update_timestamp + dt, slot=dt)
                r = dl.reclock(q, state, aux, a_to_b)
                fresh = dl.quoter(state, aux, a_to_b)
                if r is None:  # only for a general quoter where the kernel binds now
                    assert type(q) is not dl._BOUND and type(fresh) is dl._BOUND
                    q = fresh
                    continue
                kept += r is q
                bound += type(r) is dl._BOUND
                assert r is q or type(q) is dl._BOUND
                for x in (1, 10**4, 10**8, 10**12, U64_MAX):
                    assert _outcome_of(r, x) == _outcome_of(fresh, x), (state.address, a_to_b, dt, x)
                q = r
    assert kept > 20 and bound > 100
    state, aux0 = _pairs()[1]
    aux = dict(aux0)
    q = dl.quoter(state, aux, True)
    assert type(q) is dl._BOUND
    del aux[dl.CLOCK_SYSVAR]
    assert dl.reclock(q, state, aux, True) is None
    aux[dl.CLOCK_SYSVAR] = b"\0" * 39  # shorter than the Clock layout
    assert dl.reclock(q, state, aux, True) is None
    aux[dl.CLOCK_SYSVAR] = _clock(state.last_update_timestamp)
    assert type(dl.reclock(q, state, aux, True)) is dl._BOUND
    monkeypatch.setattr(dl, "_NATIVE", None)
    assert dl.reclock(q, state, aux, True) is None


def test_bound_at_is_bind_at_another_clock() -> None:
    """``Bound.at(now)``: a new object with the walk and callables, bad arguments typed."""
    state, aux = _pairs()[1]
    q = dl.quoter(state, aux, True)
    r = q.at(12345)  # type: ignore[attr-defined]
    assert type(r) is type(q) and r is not q
    with pytest.raises(TypeError):
        q.at("1")  # type: ignore[attr-defined]
    with pytest.raises(OverflowError):
        q.at(2**63)  # type: ignore[attr-defined]


def test_both_bind_forms_quote_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    """``bind``'s ten-argument form (what ``quoter`` binds: ``quote``, state, aux, a_to_b,
    ``_records``, ``_spare`` and the view; no callables made per binding) and its older
    six-argument form (general, extend and spare made by the caller) on a walk planned only as
    far as binding plans it: the same outcomes, the same ``quote`` fallbacks (amounts 0, above
    u64, not an int, errors, limit orders), the same extends of the walk, and so at another
    Clock (``at``). Bad arguments are TypeErrors."""
    fallbacks: list[Any] = []
    real = dl.quote

    def counting(*args: Any) -> Any:
        fallbacks.append(args[2])
        return real(*args)

    monkeypatch.setattr(dl, "quote", counting)  # what both forms fall back to
    rng = random.Random(12)
    _w, bench = _bench_pools(10)
    pairs = bench + [_random_pair(rng) for _ in range(40)]
    bound = extended = fell_back = 0
    for state, aux in pairs:
        for a_to_b in (True, False):
            amounts = [*_amounts(rng, 10**12, 16), U64_MAX + 7, -5, "1"]
            seen = []
            for wide in (True, False):
                dl._PLANS.pop(state.address, None)  # the same fresh walk for both forms
                q = dl.quoter(state, aux, a_to_b)
                if type(q) is not dl._BOUND:
                    break
                plan = dl._PLANS[state.address]
                walk, now = plan.walks[a_to_b], dl.clock_fields(aux[dl.CLOCK_SYSVAR])[3]  # type: ignore[index]
                if not wide:
                    q = KERNEL.bind(
                        walk, now, dl.Quote, base.plain_quoter(dl.quote, state, aux, a_to_b),
                        partial(walk.extend, aux, dl._records),
                        partial(dl._spare, walk, plan.view, a_to_b),
                    )  # fmt: skip
                planned = len(walk.indices)
                fallbacks.clear()
                got = [_outcome_of(q, x) for x in amounts]
                got += [_outcome_of(q.at(now + 650), x) for x in amounts[::3]]
                seen.append((got, list(fallbacks), len(walk.indices) - planned))
            if len(seen) == 2:
                assert seen[0] == seen[1], (state.address, a_to_b)
                bound += 1
                extended += seen[0][2] > 0
                fell_back += any(type(x) is int and 0 < x <= U64_MAX for x in seen[0][1])
    assert bound > 50 and extended > 10 and fell_back > 5, (bound, extended, fell_back)
    state, aux = bench[0]
    q = dl.quoter(state, aux, True)
    plan = dl._PLANS[state.address]
    args = [plan.walks[True], 1, dl.Quote, dl.quote, state, aux, True, dl._records, dl._spare,
            plan.view]  # fmt: skip
    assert type(KERNEL.bind(*args)) is dl._BOUND
    for i, bad in ((1, "1"), (3, None), (7, 5), (8, None)):
        with pytest.raises(TypeError):
            KERNEL.bind(*args[:i], bad, *args[i + 1 :])
    with pytest.raises(TypeError):
        KERNEL.bind(*args[:7])
