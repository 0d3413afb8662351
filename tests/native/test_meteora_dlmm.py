"""The Meteora DLMM native kernel (solarb.native._meteora_dlmm) against the Python walk.

Every case runs :func:`meteora_dlmm.quote` twice, kernel on and kernel off (``_NATIVE`` set to
None), and requires the same ``Quote`` (amount_in, amount_out, fee, arrays) or the same error
(type, message, program code). Pools: the real JLP/hubSOL dump, the bench workload's DLMM pools
and random pairs (bin steps, fee and volatility parameters, clocks before/inside/after the filter
and decay periods, fee on output, Token-2022 fees, limit orders, gaps, the bitmap extension);
amounts from 1 to u64::MAX, within one bin, across many bins and arrays, beyond the liquidity.
"""

from __future__ import annotations

import base64
import json
import math
import os
import random
import struct
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from solders.pubkey import Pubkey

from solarb.dex import base
from solarb.dex import meteora_dlmm as dl
from solarb.dex import meteora_dlmm_layout as lay
from solarb.dex import meteora_dlmm_math as m
from solarb.dex import meteora_dlmm_view as view
from solarb.dex import meteora_dlmm_walk as mw
from solarb.dex.spl_token import TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID, encode_mint
from solarb.runtime.bench_workload import Workload
from solarb.sim.programs import meteora_dlmm as sim
from tests.support.data import SHARED_DATA
from tests.support.dlmm_cases import add_limit_orders, fee_mint
from tests.support.workload_pools import workload_pools

KERNEL = dl._NATIVE
JLP_PAIR = Pubkey.from_string("6StaAqeVjKUPTgMLmcLmdpmUjoYHRcZ6uViLdWNdUghM")
U64_MAX = 2**64 - 1
Aux = dict[Pubkey, bytes]

needs_kernel = pytest.mark.skipif(KERNEL is None, reason="kernel not built or SOLARB_NATIVE=0")


def _clock(ts: int, epoch: int = 700, slot: int = 1) -> bytes:
    return struct.pack("<QqQQq", slot, 0, epoch, 0, ts)


def _outcome(state: lay.LbPair, aux: Aux, amount: int, a_to_b: bool) -> tuple[Any, ...]:
    try:
        q = dl.quote(state, aux, amount, a_to_b)
    except Exception as exc:  # noqa: BLE001 - the error is the outcome
        return (type(exc).__name__, str(exc), getattr(exc, "code", None))
    return (q.amount_in, q.amount_out, q.fee, q.arrays)


class Diff:
    """Runs cases on both paths; counts the cases the kernel answered itself."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.mp = monkeypatch
        self.cases = self.native = self.filled = 0

    def check(self, state: lay.LbPair, aux: Aux, amount: int, a_to_b: bool) -> tuple[Any, ...]:
        """Both outcomes, which must be equal; returns it."""
        try:
            handled = dl._native_quote(state, aux, amount, a_to_b) is not None
        except Exception:  # noqa: BLE001 - a typed error raised by the kernel path itself
            handled = True
        fast = _outcome(state, aux, amount, a_to_b)
        self.mp.setattr(dl, "_NATIVE", None)
        try:
            slow = _outcome(state, aux, amount, a_to_b)
        finally:
            self.mp.setattr(dl, "_NATIVE", KERNEL)
        assert fast == slow, (state.address, amount, a_to_b)
        self.cases += 1
        self.native += handled
        self.filled += handled and isinstance(fast[0], int)
        return fast


@pytest.fixture
def diff(monkeypatch: pytest.MonkeyPatch) -> Diff:
    return Diff(monkeypatch)


def _amounts(rng: random.Random, scale: int, n: int) -> Iterator[int]:
    """Edge amounts, then ``n`` log-uniform ones up to ~``scale`` (and a few far beyond)."""
    yield from (1, 2, 3, 10, 999, scale // 1000 or 1, scale // 7 or 1, scale, 10 * scale, U64_MAX,
                U64_MAX - 1, 2**63, 0, U64_MAX + 1)  # fmt: skip
    top = math.log10(max(10, scale * 3))
    for _ in range(n):
        yield max(1, int(10 ** rng.uniform(0, top)))


# ---------------------------------------------------------------- the kernel is there


def test_kernel_is_built_and_loaded() -> None:
    if os.environ.get("SOLARB_NATIVE", "1") == "0":
        pytest.skip("SOLARB_NATIVE=0: the Python path is forced")
    assert KERNEL is not None, "solarb.native._meteora_dlmm is not built (make native)"
    assert dl._NATIVE is KERNEL


# ---------------------------------------------------------------- real and bench pools


def _jlp() -> tuple[lay.LbPair, Aux]:
    aux: Aux = {}
    for f in (SHARED_DATA / "accounts/meteora_dlmm/jlp_hubsol_6StaAqeV").glob("*.json"):
        j = json.loads(f.read_text())
        aux[Pubkey.from_string(j["pubkey"])] = base64.b64decode(j["account"]["data"][0])
    return dl.decode_pool(JLP_PAIR, aux[JLP_PAIR]), aux


@needs_kernel
def test_real_pair_matches_python(diff: Diff) -> None:
    state, aux = _jlp()
    rng = random.Random(1)
    last = state.last_update_timestamp
    for dt in (-100, 0, 5, 29, 30, 31, 300, 599, 600, 10**6):
        aux[dl.CLOCK_SYSVAR] = _clock(last + dt)
        for a_to_b in (True, False):
            for amount in _amounts(rng, 10**11, 150):
                diff.check(state, aux, amount, a_to_b)
    assert diff.filled > 2000  # the kernel answered, not only the fallback
    # the walk crossed several bins and arrays and ran out of loaded arrays
    outs = {diff.check(state, aux, a, True)[0] for a in (10**9, 10**11, 10**13)}
    assert "MissingAccount" in outs or "InsufficientLiquidity" in outs


def _bench_pools(n_pools: int = 20) -> tuple[Workload, list[tuple[lay.LbPair, Aux]]]:
    w = Workload(n_pools, 7, 4, 0)
    return w, [(state, aux) for _dl, state, aux in workload_pools(w, (dl,))]


@needs_kernel
def test_bench_pools_match_python(diff: Diff) -> None:
    _w, pools = _bench_pools()
    rng = random.Random(2)
    crossing = 0
    for state, aux in pools:
        for a_to_b in (True, False):
            for amount in _amounts(rng, 10**12, 250):
                r = diff.check(state, aux, amount, a_to_b)
                crossing += isinstance(r[0], int) and len(r[3]) > 2
    assert diff.filled > 1500 and crossing > 50
    # the market's compact form of the arrays gives the same plans and results
    from solarb.market.compact import compact

    for state, aux in pools:
        sparse = {k: compact(v, None) if len(v) >= 2048 else v for k, v in aux.items()}
        for a_to_b in (True, False):
            for amount in (10**6, 10**10, 10**12):
                assert diff.check(state, sparse, amount, a_to_b) == diff.check(state, aux, amount, a_to_b)


@needs_kernel
def test_changed_arrays_and_clock_are_seen(diff: Diff) -> None:
    """Same state object, new data for an array (or none, or b""), new clock: no stale plan."""
    _w, pools = _bench_pools(10)
    state, aux = pools[0]
    for a_to_b in (True, False):
        amounts = (10**8, 10**10, 10**11, 10**12, 5 * 10**12)
        warm = [diff.check(state, aux, a, a_to_b) for a in amounts]
        filled = [r for r in warm if isinstance(r[0], int)]
        arrays = filled[-1][3]  # the widest walk that filled
        assert len(arrays) >= 2
        for key in arrays:
            data = aux[key]
            buf = bytearray(data)
            for i in range(70):  # halve every bin of this array
                off = lay.OFF_BINS + i * lay.BIN_LEN
                ax, ay = struct.unpack_from("<QQ", buf, off)
                struct.pack_into("<QQ", buf, off, ax // 2, ay // 2)
            for new in (bytes(buf), None, b""):
                changed = dict(aux)
                if new is None:
                    del changed[key]
                else:
                    changed[key] = new
                for a in amounts:
                    diff.check(state, changed, a, a_to_b)
            assert [diff.check(state, aux, a, a_to_b) for a in amounts] == warm
        for dt in (0, 31, 601, 10**5):
            clocked = {**aux, dl.CLOCK_SYSVAR: _clock(state.last_update_timestamp + dt)}
            for a in amounts:
                diff.check(state, clocked, a, a_to_b)
        missing_clock = {k: v for k, v in aux.items() if k != dl.CLOCK_SYSVAR}
        assert diff.check(state, missing_clock, 10**9, a_to_b)[0] == "MissingAccount"


@needs_kernel
def test_missing_clock_before_any_clock_was_read(
    diff: Diff, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kernel path's Clock cache starts empty: a quote without the Clock raises, not now=0."""
    _w, pools = _bench_pools(10)
    state, aux = pools[0]
    missing_clock = {k: v for k, v in aux.items() if k != dl.CLOCK_SYSVAR}
    monkeypatch.setattr(base, "_LAST_CLOCK", (object(), 0, 0, 0))  # clock_fields' cache: empty
    assert diff.check(state, missing_clock, 10**9, True)[0] == "MissingAccount"
    assert dl.quoter(state, missing_clock, True).__name__ == "general"


# ---------------------------------------------------------------- random pairs


def _fee_mint(rng: random.Random) -> bytes:
    """A Token-2022 mint with a random TransferFeeConfig."""
    return fee_mint((rng.randint(0, 1_000), rng.randint(0, 10**9), rng.randint(0, 10_000),
                     rng.randint(0, 1_000), rng.randint(0, 10**9), rng.randint(0, 10_000)))


def _random_pair(rng: random.Random) -> tuple[lay.LbPair, Aux]:
    """A random pair with its clock and mints (limit orders on some; edge fee parameters)."""
    extension = rng.random() < 0.1
    bin_step = 1 if extension else rng.choice((1, 2, 5, 8, 10, 25, 80, 100, 250, 400))
    bound = min(30_000, int(18 / math.log1p(bin_step / 10_000)))
    active = rng.choice((1, -1)) * rng.randint(35_700, 35_900) if extension else rng.randint(-bound, bound)
    width = rng.choice((2, 40, 150))
    gap = rng.random() < 0.3
    bins: dict[int, tuple[int, int]] = {}
    for b in range(active - width, active + width + 1):
        if rng.random() < (0.5 if gap else 0.1) or (gap and 4 < abs(b - active) < 100):
            continue
        big = 10 ** rng.randint(0, 13)
        ax = rng.randint(0, big) if b >= active else 0
        ay = rng.randint(0, big) if b <= active else 0
        if ax or ay:
            bins[b] = (ax, ay)
    t22_x, t22_y = rng.random() < 0.15, rng.random() < 0.15
    max_va = rng.choice((0, 10_000, 350_000, rng.randint(0, 2**32 - 1)))
    last_ts = rng.randint(1_600_000_000, 1_800_000_000)
    filter_p = rng.randint(0, 60)
    pair, accounts = sim.create_pool(
        mint_x=Pubkey.new_unique(), mint_y=Pubkey.new_unique(), bin_step=bin_step,
        base_factor=rng.choice((1, 5_000, rng.randint(1, 0xFFFF))), active_id=active, bins=bins,
        token_program_x=TOKEN_2022_PROGRAM_ID if t22_x else TOKEN_PROGRAM_ID,
        token_program_y=TOKEN_2022_PROGRAM_ID if t22_y else TOKEN_PROGRAM_ID,
        filter_period=filter_p, decay_period=rng.randint(filter_p, 1_200),
        reduction_factor=rng.randint(0, 10_000),
        variable_fee_control=rng.choice((0, rng.randint(0, 500_000), 2**32 - 1)),
        max_volatility_accumulator=max_va, protocol_share=rng.choice((0, 500, 2_500)),
        base_fee_power_factor=rng.choice((0, 0, 1, 2, 5)), function_type=rng.choice((0, 1, 2)),
        collect_fee_mode=rng.choice((0, 1)), volatility_accumulator=rng.randint(0, max_va),
        volatility_reference=rng.randint(0, max_va), index_reference=active + rng.randint(-30, 30),
        last_update_timestamp=last_ts,
    )  # fmt: skip
    aux = {k: v.data for k, v in accounts.items()}
    state = dl.decode_pool(pair, aux[pair])
    if rng.random() < 0.3:  # limit orders on some bins, either side
        add_limit_orders(aux, rng, lambda: rng.randint(0, 10**10))
    if rng.random() < 0.1:  # bins holding nearly u64::MAX (patched: the reserves would overflow)
        for key, data in list(aux.items()):
            if len(data) == lay.BIN_ARRAY_LEN:
                buf = bytearray(data)
                for i in range(70):
                    off = lay.OFF_BINS + i * lay.BIN_LEN
                    ax, ay = struct.unpack_from("<QQ", buf, off)
                    if rng.random() < 0.2:
                        struct.pack_into("<QQ", buf, off, ax and U64_MAX - rng.randint(0, 9),
                                         ay and U64_MAX - rng.randint(0, 9))
                aux[key] = bytes(buf)
    if rng.random() < 0.1:  # unstored prices: the kernel's pow
        for key, data in list(aux.items()):
            if len(data) == lay.BIN_ARRAY_LEN:
                buf = bytearray(data)
                for i in range(70):
                    off = lay.OFF_BINS + i * lay.BIN_LEN + 16
                    buf[off : off + 16] = bytes(16)
                aux[key] = bytes(buf)
    for mint, t22 in ((state.mint_a, t22_x), (state.mint_b, t22_y)):
        aux[mint] = _fee_mint(rng) if t22 else encode_mint(6)
    ts = last_ts + rng.choice((0, rng.randint(0, 60), rng.randint(0, 2_000), 10**6, -rng.randint(1, 99)))
    aux[dl.CLOCK_SYSVAR] = _clock(ts, rng.randint(0, 1_000))
    return state, aux


@needs_kernel
def test_random_pairs_match_python(diff: Diff) -> None:
    rng = random.Random(20251126)
    for _ in range(250):
        state, aux = _random_pair(rng)
        for a_to_b in (True, False):
            for amount in _amounts(rng, 10**12, 12):
                diff.check(state, aux, amount, a_to_b)
    assert diff.cases > 10_000 and diff.filled > diff.cases // 3


@needs_kernel
def test_pair_flags_and_activation(diff: Diff) -> None:
    """Disabled pairs, permissioned pairs before/after activation, unknown fee modes, protocol
    shares above 100%: the same errors and results as the Python walk."""
    _w, pools = _bench_pools(10)
    state, aux = pools[0]
    variants = [
        replace(state, status=1),
        replace(state, collect_fee_mode=2),
        replace(state, collect_fee_mode=1),
        replace(state, protocol_share=20_000),
        replace(state, protocol_share=10_000),
        replace(state, function_type=2),
    ]
    for by_ts in (0, 1):
        for point in (0, 1, 10**12):
            variants.append(replace(state, pair_type=1, activation_type=by_ts, activation_point=point))
    for s in variants:
        for a_to_b in (True, False):
            for amount in (1, 10**6, 10**10, 10**12, U64_MAX):
                diff.check(s, aux, amount, a_to_b)


@needs_kernel
def test_bin_id_bounds(diff: Diff) -> None:
    """Walks reaching bin id +-443636 (stored prices patched to 1.0 so amounts stay in u64): the
    kernel ends with the same out-of-bounds error as the Python walk."""
    outcomes = set()
    for active, sign in ((443_630, 1), (-443_630, -1)):
        bins = {active + sign * j: ((10**6, 0) if sign > 0 else (0, 10**6)) for j in range(7)}
        pair, accounts = sim.create_pool(mint_x=Pubkey.new_unique(), mint_y=Pubkey.new_unique(),
                                         bin_step=1, base_factor=5_000, active_id=active, bins=bins)
        aux = {k: v.data for k, v in accounts.items()}
        for key, data in list(aux.items()):
            if len(data) == lay.BIN_ARRAY_LEN:
                buf = bytearray(data)
                for i in range(70):
                    off = lay.OFF_BINS + i * lay.BIN_LEN + 16
                    if buf[off : off + 16] != bytes(16):
                        buf[off : off + 16] = (1 << 64).to_bytes(16, "little")
                aux[key] = bytes(buf)
        aux[dl.CLOCK_SYSVAR] = _clock(100)
        state = dl.decode_pool(pair, aux[pair])
        for a_to_b in (True, False):
            for amount in (10, 10**6, 7 * 10**6, 10**9, U64_MAX):
                r = diff.check(state, aux, amount, a_to_b)
                outcomes.add(r[1] if isinstance(r[0], str) else "filled")
    assert outcomes == {"filled", "meteora_dlmm: bin id out of bounds", "meteora_dlmm: pool out of liquidity"}


def test_plan_header_layout() -> None:
    """The header the C kernel reads (see meteora_dlmm.c) is 60 bytes plus 12 per array."""
    p = m.FeeParams(10, 5_000, 1, 40_000, 350_000, 30, 600, 5_000, 500, 7, 8, -9, -1)
    h = mw.kernel_header(p, -5, True, False, True, mw.KERNEL_NOT_LOADED, [(-70, 65, 0), (-140, 69, 0)])
    assert len(h) == 60 + 24
    assert h[:4] == bytes([1, 0, 1, mw.KERNEL_NOT_LOADED])
    assert struct.unpack_from("<iiIII", h, 12) == (-5, -9, 7, 8, 350_000)
    assert struct.unpack_from("<qQ", h, 44) == (-1, min(5_000 * 10 * 10 * 10, m.MAX_FEE_RATE))
    assert struct.unpack_from("<iii", h, 72) == (-140, 69, 0)


# ---------------------------------------------------------------- the bound quoter


class Bound:
    """Bound quoters against the Python walk; counts the amounts answered without quote()."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.mp = monkeypatch
        self.quote = dl.quote
        self.general = 0
        self.cases = self.direct = 0

        def counting(*args: Any) -> Any:
            self.general += 1
            return self.quote(*args)

        monkeypatch.setattr(dl, "quote", counting)  # what a bound quoter falls back to

    def python(self, state: lay.LbPair, aux: Aux, amount: int, a_to_b: bool) -> tuple[Any, ...]:
        self.mp.setattr(dl, "_NATIVE", None)
        try:
            return _outcome_of(self.quote, state, aux, amount, a_to_b)
        finally:
            self.mp.setattr(dl, "_NATIVE", KERNEL)

    def run(self, state: lay.LbPair, aux: Aux, a_to_b: bool, amounts: list[int]) -> list[Any]:
        """Bind once, then each amount in order: equal to the Python walk's outcome."""
        before = self.general
        bound = dl.quoter(state, aux, a_to_b)
        out = []
        for amount in amounts:
            calls = self.general
            got = _outcome_of(bound, amount)
            assert got == self.python(state, aux, amount, a_to_b), (state.address, amount, a_to_b)
            self.cases += 1
            self.direct += self.general == calls
            out.append(got)
        assert self.general - before <= len(amounts)
        return out


def _outcome_of(fn: Any, *args: Any) -> tuple[Any, ...]:
    try:
        q = fn(*args)
    except Exception as exc:  # noqa: BLE001 - the error is the outcome
        return (type(exc).__name__, str(exc), getattr(exc, "code", None))
    return (q.amount_in, q.amount_out, q.fee, q.arrays)


@needs_kernel
def test_bound_quoter_matches_python_whatever_was_planned(monkeypatch: pytest.MonkeyPatch) -> None:
    """A walk planned at binding and extended inside the bound quoter, one left planned (and
    extended) by an earlier binding or by quote(), in any order of amounts: the same quotes and
    errors as the Python walk, on the bench pools as bytes and as the market's compact arrays."""
    from solarb.market.compact import compact

    b = Bound(monkeypatch)
    _w, pools = _bench_pools(60)
    rng = random.Random(3)
    for state, plain in pools:
        sparse = {k: compact(v, None) if len(v) >= 2048 else v for k, v in plain.items()}
        for aux in (plain, sparse):
            for a_to_b in (True, False):
                amounts = list(_amounts(rng, 10**12, 60))
                dl._PLANS.pop(state.address, None)  # planned at binding
                fresh = b.run(state, aux, a_to_b, amounts)
                assert b.run(state, aux, a_to_b, amounts[::-1]) == fresh[::-1]  # fully planned
                dl._PLANS.pop(state.address, None)
                for amount in sorted(amounts, reverse=True)[:3]:  # quote() plans the walk
                    _outcome_of(dl.quote, state, aux, amount, a_to_b)
                shuffled = sorted(range(len(amounts)), key=lambda _i: rng.random())
                got = b.run(state, aux, a_to_b, [amounts[i] for i in shuffled])
                assert got == [fresh[i] for i in shuffled]
    assert b.cases > 8000 and b.direct * 10 > b.cases * 8, (b.direct, b.cases)


@needs_kernel
def test_bound_quoter_sees_arrays_changed_between_bindings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Same state object, an array the planned walk read changed (new data, dropped, b"") or an
    absent one now loaded: the next binding plans anew (no per-probe staleness check)."""
    b = Bound(monkeypatch)
    _w, pools = _bench_pools(10)
    amounts = [10**8, 10**10, 10**11, 10**12, 5 * 10**12, 10**14, U64_MAX]
    for state, aux in pools[:3]:
        for a_to_b in (True, False):
            warm = b.run(state, aux, a_to_b, amounts)
            walked = {k for r in warm if isinstance(r[0], int) for k in r[3]}
            for key in sorted(walked & set(aux), key=bytes):
                buf = bytearray(aux[key])
                for i in range(70):  # halve every bin of this array
                    off = lay.OFF_BINS + i * lay.BIN_LEN
                    ax, ay = struct.unpack_from("<QQ", buf, off)
                    struct.pack_into("<QQ", buf, off, ax // 2, ay // 2)
                for new in (bytes(buf), None, b""):
                    changed = {k: v for k, v in aux.items() if k != key}
                    if new is not None:
                        changed[key] = new
                    b.run(state, changed, a_to_b, amounts)
                    if new is None:  # loaded again (the walk ended on its absence)
                        b.run(state, aux, a_to_b, amounts)
            assert b.run(state, aux, a_to_b, amounts) == warm
    assert b.direct > 50


@needs_kernel
def test_bound_quoter_on_random_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Limit orders, fee on output, Token-2022 fees, the bitmap extension, clocks, gaps: the
    bound quoter falls back where the kernel path does and agrees everywhere."""
    b = Bound(monkeypatch)
    rng = random.Random(20251127)
    for _ in range(120):
        state, aux = _random_pair(rng)
        for a_to_b in (True, False):
            b.run(state, aux, a_to_b, list(_amounts(rng, 10**12, 10)))
    assert b.cases > 5000 and b.direct > b.cases // 4, (b.direct, b.cases)


@needs_kernel
def test_views_share_walk_memos_only_for_equal_bitmaps(diff: Diff) -> None:
    """A pair's new state with the same internal bitmap (and extension data) shares the last
    view's walk memo and spared arrays; a changed bitmap gets its own. Quotes on each state are
    those of a process that never saw the others (caches cleared)."""
    _w, pools = _bench_pools(10)
    state, aux = pools[0]
    ext = aux.get(dl.bitmap_extension_address(state.address))
    idx = m.bin_id_to_array_index(state.active_id)
    moved = replace(state, active_id=state.active_id + 1, volatility_accumulator=7)
    cleared = replace(state, bin_array_bitmap=state.bin_array_bitmap & ~(1 << (idx + 512)))
    amounts = (1, 10**6, 10**8, 10**10, 10**11, 10**12, 10**13)

    def outcomes(s: lay.LbPair) -> list[tuple[Any, ...]]:
        return [diff.check(s, aux, a, d) for d in (True, False) for a in amounts]

    cold = {}
    for s in (state, moved, cleared):
        view._VIEWS.clear(), dl._PLANS.clear()
        cold[id(s)] = outcomes(s)
    assert cold[id(cleared)] != cold[id(state)]  # the cleared array is skipped
    view._VIEWS.clear()
    for s in (state, moved, cleared, state, cleared, moved):
        last = view._VIEWS.get(state.address)
        v = view.pair_view(s, ext)
        shared = last is not None and last.state.bin_array_bitmap == s.bin_array_bitmap
        assert (last is not None and v.walk is last.walk) == shared
        assert outcomes(s) == cold[id(s)]


@needs_kernel
def test_bound_quoter_follows_a_walk_quote_extends(monkeypatch: pytest.MonkeyPatch) -> None:
    """quote() extending the bound quoter's walk after binding: the bound quoter (which reads the
    walk's plan at binding and after its own extends) runs over the longer plan before it
    extends, so the walk ends with the stretches quote() alone plans for the same amounts, and
    every probe agrees with the Python walk (bench pools and random pairs, many arrays)."""
    b = Bound(monkeypatch)
    _w, bench = _bench_pools(20)
    rng = random.Random(8)
    pairs = bench + [_random_pair(rng) for _ in range(60)]
    longer = 0
    for state, aux in pairs:
        for a_to_b in (True, False):
            amounts = list(_amounts(rng, 10**12, 12))
            dl._PLANS.pop(state.address, None)
            for amount in amounts:
                _outcome_of(b.quote, state, aux, amount, a_to_b)
            walk = dl._PLANS[state.address].walks[a_to_b]
            alone = None if walk is None else len(walk.indices)
            dl._PLANS.pop(state.address, None)
            bound = dl.quoter(state, aux, a_to_b)
            walk = dl._PLANS[state.address].walks[a_to_b]
            if walk is None:  # no kernel plan for this pair: nothing bound in C
                continue
            bound_at = len(walk.indices)
            for amount in amounts:  # quote() plans the same walk on, as far as these amounts go
                _outcome_of(b.quote, state, aux, amount, a_to_b)
            for amount in amounts:
                got = _outcome_of(bound, amount)
                assert got == b.python(state, aux, amount, a_to_b), (state.address, amount)
            assert dl._PLANS[state.address].walks[a_to_b] is walk
            assert len(walk.indices) == alone, (state.address, a_to_b)
            longer += alone > bound_at + 1
    assert longer > 10, longer


# ---------------------------------------------------------------- records from the market's runs


def _random_array(rng: random.Random, filled: int) -> bytes:
    """A BinArray with ``filled`` random non-empty bins (amounts, prices, limit orders)."""
    buf = bytearray(lay.BIN_ARRAY_LEN)
    buf[:8] = lay.BIN_ARRAY_DISCRIMINATOR
    struct.pack_into("<q", buf, 8, rng.randrange(-100, 100))
    for i in rng.sample(range(70), filled):
        off = lay.OFF_BINS + i * lay.BIN_LEN
        for field, size in ((0, 8), (8, 8), (16, 16), (112, 8), (128, 8)):
            if rng.random() < 0.6:
                v = rng.choice((1, 255, 2**63, 2 ** (8 * size) - 1, rng.getrandbits(8 * size)))
                buf[off + field : off + field + size] = v.to_bytes(size, "little")
        buf[off + 140] = rng.random() < 0.5
    return bytes(buf)


@needs_kernel
def test_records_from_runs_equal_records_from_bytes() -> None:
    """``_records`` of the market's compact form (read by the kernel from its runs) equals the
    records of the same bytes: bench pools' arrays, random arrays (bins at the edges, limit
    orders, a run across the header and the first bin), a wrong discriminator (None), and a
    malformed index (the bytes are read instead)."""
    from array import array

    from solarb.market.compact import SparseBytes, compact

    _w, pools = _bench_pools(20)
    rng = random.Random(9)
    datas = [v for _s, aux in pools for v in aux.values() if len(v) == lay.BIN_ARRAY_LEN]
    datas += [_random_array(rng, rng.choice((0, 1, 2, 5, 12, 20))) for _ in range(300)]
    edge = bytearray(_random_array(rng, 0))
    edge[lay.OFF_BINS - 4 : lay.OFF_BINS + 8] = b"\x07" * 12  # a run over the header and bin 0
    edge[-8:] = b"\x09" * 8  # the last bin's last bytes
    datas.append(bytes(edge))
    sparse, key = 0, Pubkey.new_unique()
    for i, data in enumerate(datas):
        plain = KERNEL.extract_bins(data, lay.OFF_BINS, 0, 70)  # type: ignore[union-attr]
        stored = compact(data, None)
        sparse += type(stored) is SparseBytes
        assert dl._records_of_runs(stored) == plain, i
        assert dl._records(key, stored) == plain
        other = compact(b"\x01" + data[1:], None)  # not a BinArray: None, as for bytes
        assert dl._records_of_runs(other) is None
        assert dl._records(key, other) is None
    dl._RECORDS.pop(key)
    assert sparse > 250
    # the kernel reads the index as the market lays it out, 'H' or 'I' wide
    data = datas[-1]
    stored = compact(data, None)
    assert type(stored) is SparseBytes
    wide = array("I", stored._index)
    assert KERNEL.extract_runs(  # type: ignore[union-attr]
        stored._chunks, wide, lay.BIN_ARRAY_DISCRIMINATOR, lay.OFF_BINS, 0, 70
    ) == KERNEL.extract_bins(data, lay.OFF_BINS, 0, 70)  # type: ignore[union-attr]
    # malformed: runs outside the chunks or the data, an odd index, another item type
    bad = array("H", stored._index)
    bad[len(bad) // 2] += 1  # the second offset: the first run longer than stored
    bad[-2] += 4096
    for index in (bad, array("H", stored._index)[:-1], array("i", stored._index), b"\0\0\0\0"):
        with pytest.raises(ValueError):
            KERNEL.extract_runs(  # type: ignore[union-attr]
                stored._chunks, index, lay.BIN_ARRAY_DISCRIMINATOR, lay.OFF_BINS, 0, 70
            )
    with pytest.raises(ValueError):  # bins beyond the data
        KERNEL.extract_runs(stored._chunks, stored._index, b"", lay.OFF_BINS + 1, 0, 70)  # type: ignore[union-attr]

    class Odd:  # data whose runs do not describe it: read as bytes(data)
        _chunks, _index = stored._chunks, bad

        def __bytes__(self) -> bytes:
            return data

    assert dl._records_of_runs(Odd()) == KERNEL.extract_bins(data, lay.OFF_BINS, 0, 70)  # type: ignore[arg-type,union-attr]
