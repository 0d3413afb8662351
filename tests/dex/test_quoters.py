"""``quoter(state, aux, a_to_b)``: the bound form of ``quote`` that sizing calls for a run of
amounts (an optional adapter function). It must give exactly what ``quote`` gives, errors
included, on every pool of the bench workload as the market moves through many states."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from solarb import native
from solarb.dex.base import DexError, Quote
from solarb.dex.registry import ADAPTERS
from solarb.dex.spl_token import SYSTEM_PROGRAM_ID
from solarb.events import AccountUpdate
from solarb.market.state import MarketState
from solarb.runtime.bench_workload import Workload

U64 = 2**64 - 1


def _market(w: Workload) -> MarketState:
    market = MarketState(ADAPTERS)
    for address, _kind, _a, _b in w.pools:
        acc = w.bank.get_account(address)
        market.add_pool(AccountUpdate(address, 1, acc.data, acc.owner, acc.lamports))
    _refresh(market, w, 1)
    return market


def _refresh(market: MarketState, w: Workload, slot: int) -> None:
    for key in market.watched_accounts():
        acc = w.bank.get_account(key)
        if acc is None:
            market.apply(AccountUpdate(key, slot, b"", SYSTEM_PROGRAM_ID, 0))
        else:
            market.apply(AccountUpdate(key, slot, acc.data, acc.owner, acc.lamports))


def _outcome(fn: Callable[[], Quote]) -> Any:
    try:
        q = fn()
    except DexError as exc:
        return (type(exc), getattr(exc, "code", None), str(exc))
    return (q, q.arrays)


def _amounts(rng: random.Random) -> list[int]:
    return [0, 1, U64, U64 + 1, *(int(10 ** rng.uniform(0, 13)) for _ in range(40))]


def test_quoters_equal_quote_over_many_states(monkeypatch: pytest.MonkeyPatch) -> None:
    fallbacks: dict[str, int] = {}
    for adapter in {a for a in ADAPTERS.values() if hasattr(a, "quoter")}:
        def counting(*args: Any, _adapter: Any = adapter, _quote: Any = adapter.quote) -> Quote:
            fallbacks[_adapter.NAME] = fallbacks.get(_adapter.NAME, 0) + 1
            return _quote(*args)  # type: ignore[no-any-return]

        monkeypatch.setattr(adapter, "quote", counting)  # what a quoter falls back to
    w = Workload(30, 11, 4, 5)
    market = _market(w)
    rng = random.Random(11)
    checked: dict[str, int] = {}
    direct: dict[str, int] = {}  # answered by the bound kernel call, without quote()
    for round_ in range(8):
        for address, entry in market.pools.items():
            quoter = getattr(entry.adapter, "quoter", None)
            if quoter is None or not entry.tradable:
                continue
            for a_to_b in (True, False):
                bound = quoter(entry.state, entry.aux, a_to_b)
                for x in _amounts(rng):
                    want = _outcome(lambda: entry.adapter.quote(entry.state, entry.aux, x, a_to_b))
                    name = entry.adapter.NAME
                    before = fallbacks.get(name, 0)
                    assert _outcome(lambda: bound(x)) == want, (name, address, x)
                    checked[name] = checked.get(name, 0) + 1
                    direct[name] = direct.get(name, 0) + (fallbacks.get(name, 0) == before)
        for _ in range(25):  # swaps move prices, liquidity and the arrays' contents
            w._swap()
        _refresh(market, w, round_ + 2)
    assert set(checked) == {a.NAME for a in ADAPTERS.values()}, checked
    assert min(checked.values()) >= 1000, checked
    kernels = all(native.status().values())  # CP quoters: a C or a Python closure, bound either way
    bound_names = [n for n in checked if kernels or n in ("raydium_amm_v4", "raydium_cpmm")]
    assert all(direct[n] * 2 > checked[n] for n in bound_names), (direct, checked)
