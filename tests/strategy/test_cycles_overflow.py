"""A quote above u64 (an adapter bug: no Solana amount exceeds it) is an ``OverflowError`` out of
the finder and ``size_cycle``, with the sizing kernel and with its Python reference alike: the
cycle is never traded nor counted as sized, and the finder carries on once the quotes are sane."""

from __future__ import annotations

import types
from dataclasses import replace
from typing import Any

import pytest

from solarb.dex.base import Quote
from solarb.market import MarketState
from solarb.strategy import CycleFinder, size_cycle
from solarb.strategy import cycles as cy
from tests.support import cp_adapter as cp

S, A = cp.key("mint/S"), cp.key("mint/A")
P1, P2 = cp.spec("o1", S, A), cp.spec("o2", S, A)
R = 10**9


def _faulty() -> tuple[Any, dict[str, bool]]:
    """The cp adapter whose quotes add 2^64 to ``amount_out`` while ``flag["over"]``."""
    flag = {"over": False}
    adapter = types.SimpleNamespace(
        **{k: getattr(cp, k) for k in dir(cp) if not k.startswith("__")}
    )

    def quote(state: Any, aux: Any, amount_in: int, a_to_b: bool) -> Quote:
        q = cp.quote(state, aux, amount_in, a_to_b)
        return replace(q, amount_out=q.amount_out + (1 << 64)) if flag["over"] else q

    adapter.quote = quote
    return adapter, flag


@pytest.mark.parametrize("kernel", [True, False])
def test_overflowing_quote_raises_and_never_trades(
    kernel: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not kernel:
        monkeypatch.setattr(cy, "_SIZING", None)
    elif cy._SIZING is None:
        pytest.skip("sizing kernel disabled (SOLARB_NATIVE=0)")
    adapter, flag = _faulty()
    m = MarketState({cp.PROGRAM_ID: adapter})
    cp.load(m, P1, R, 2 * R)
    cp.load(m, P2, R, int(2 * R * 1.02))  # P2 sells A 2 % cheaper: S -> A on P2, back on P1
    f = CycleFinder(m, start_mints=[S], min_profit={S: 1}, max_amount_in={S: 10**7},
                    keep_quoters=False)  # fmt: skip
    f.rebuild()
    good = f.on_pool_changed(P2.pool, slot=1, ts_recv_ns=0, now_ns=0)
    assert good and good[0].profit > 0
    counts = (f.sized, f.found, f.quotes)
    flag["over"] = True
    with pytest.raises(OverflowError, match=r"Quote.amount_out above 2\^64 - 1"):
        f.on_pool_changed(P2.pool, slot=2, ts_recv_ns=0, now_ns=0)
    assert (f.sized, f.found, f.quotes) == counts  # not sized, nothing found or built
    (cycle,) = [c for c in f.cycles_through(P2.pool) if c.legs[0].pool == P2.pool]
    entries = [m.pools[p] for p in cycle.pools]
    with pytest.raises(OverflowError, match=r"Quote.amount_out above 2\^64 - 1"):
        size_cycle(cycle, entries, 1.01, 10**7)
    flag["over"] = False  # sane quotes again: the same opportunity as before
    again = f.on_pool_changed(P2.pool, slot=3, ts_recv_ns=0, now_ns=0)
    assert [o.profit for o in again] == [o.profit for o in good]
