"""The Orca Whirlpool kernel (``solarb.native._whirlpool``) against the pure-Python swap: the
public ``quote`` with the kernel on and off gives the same Quote or the same typed error
(type, code, message) on real mainnet dumps, the bench workload's pools and the oracle tests'
random pools (prices near the tick bounds, liquidity up to 2^110, dense ranges crossing many ticks,
fixed and dynamic arrays, missing and non-existent arrays, Token-2022 transfer fees, adaptive
fees left to Python), amounts from 0 to past u64; and the kernel covers every static-fee swap the
program accepts (it never answers "not handled" for one, never answers where Python raises)."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from solders.pubkey import Pubkey

from solarb import native
from solarb.dex import clmm_math as cm
from solarb.dex import orca_whirlpool as ow
from solarb.dex import orca_whirlpool_layout as wl
from solarb.dex import orca_whirlpool_plan as wp
from solarb.dex.base import Quote
from solarb.dex.quote_cases import load_accounts_file
from solarb.runtime.bench_workload import Workload
from tests.support.data import SHARED_DATA
from tests.support.orca_cases import random_case
from tests.support.workload_pools import workload_pools

DATA = SHARED_DATA / "accounts" / "orca_whirlpool"
U64 = cm.U64_MAX
KERNEL = ow._NATIVE
needs_kernel = pytest.mark.skipif(
    KERNEL is None, reason="whirlpool kernel disabled (SOLARB_NATIVE=0)"
)

Aux = dict[Pubkey, bytes]


def test_kernel_is_loaded() -> None:
    """CI builds the extension: a missing .so fails here unless SOLARB_NATIVE=0 asks for Python."""
    if not native.enabled():
        assert ow._NATIVE is None
        return
    assert ow._NATIVE is not None, (
        "build it: SOLARB_NATIVE_ONLY=whirlpool python setup.py build_ext --inplace"
    )
    assert native.status()["whirlpool"]


@contextmanager
def _python_only() -> Iterator[None]:
    saved = ow._NATIVE
    ow._NATIVE = None
    try:
        yield
    finally:
        ow._NATIVE = saved


def _outcome(fn: Callable[[], Any]) -> tuple[Any, ...]:
    try:
        q = fn()
    except Exception as exc:  # noqa: BLE001 - the typed error is part of the outcome
        return (type(exc).__name__, getattr(exc, "code", None), str(exc))
    return (q.amount_in, q.amount_out, q.fee, q.arrays)


def _python_outcome(state: wl.Whirlpool, aux: Aux, amount: int, a_to_b: bool) -> tuple[Any, ...]:
    with _python_only():
        return _outcome(lambda: ow.quote(state, aux, amount, a_to_b))


def _check(state: wl.Whirlpool, aux: Aux, amount: int, a_to_b: bool) -> bool:
    """Kernel and Python agree on ``quote``; True when the kernel computed it."""
    want = _python_outcome(state, aux, amount, a_to_b)
    got = _outcome(lambda: ow.quote(state, aux, amount, a_to_b))
    assert got == want, (amount, a_to_b)
    direct = ow._native_quote(state, aux, amount, a_to_b)
    if state.adaptive_fee:
        assert direct is None
    elif isinstance(want[0], str):  # Python raises: the kernel must not answer
        assert direct is None, (amount, a_to_b, want)
    else:  # the program accepts it: the kernel covers it
        assert direct is not None and _outcome(lambda: direct) == want, (amount, a_to_b)
    return direct is not None


def _amounts(rng: random.Random, n: int) -> list[int]:
    edges = [0, 1, 2, 999, U64 - 1, U64, U64 + 1, 2**128, -1]
    return edges + [int(2 ** rng.uniform(0, 64)) for _ in range(n)]


def _folder(folder: str) -> Aux:
    out: Aux = {}
    for f in sorted((DATA / folder).glob("*.json")):
        out.update({k: d for k, (_, d) in load_accounts_file(f).items()})
    return out


@needs_kernel
@pytest.mark.parametrize(
    ("folder", "address"),
    [
        ("sol_usdc_ts64_HJPjoWUr/gabrielfior", "HJPjoWUrhoZzkNfRpHuieeFk9WcZWjwy6PBjZ81ngndJ"),
        ("sol_usdc_ts64_HJPjoWUr/solsandbox", "HJPjoWUrhoZzkNfRpHuieeFk9WcZWjwy6PBjZ81ngndJ"),
        ("bono_usdc_ts64_DBJ5hywa", "DBJ5hywaJQKfjyt8Ekng4t6KB1gvqnYFdcJoTppCNikt"),
    ],
)
def test_real_dumps(folder: str, address: str) -> None:
    accs = _folder(folder)
    key = Pubkey.from_string(address)
    state = ow.decode_pool(key, accs[key])
    rng = random.Random(f"{folder}-real")
    handled = 0
    for a_to_b in (True, False):
        for amount in _amounts(rng, 800):
            handled += _check(state, accs, amount, a_to_b)
    assert handled > 300
    # the dense SOL/USDC arrays: big swaps cross many initialized ticks in the kernel
    if folder.endswith("gabrielfior"):
        crossed = ow.quote_detail(state, accs, 10**12, True, detail=True).swap.crossed
        assert len(crossed) >= 3 and _check(state, accs, 10**12, True)


@needs_kernel
def test_missing_empty_and_foreign_arrays() -> None:
    accs = _folder("sol_usdc_ts64_HJPjoWUr/gabrielfior")
    key = Pubkey.from_string("HJPjoWUrhoZzkNfRpHuieeFk9WcZWjwy6PBjZ81ngndJ")
    state = ow.decode_pool(key, accs[key])
    rng = random.Random(5)
    for a_to_b in (True, False):
        arrays = ow.swap_tick_arrays(state, a_to_b)
        variants = [
            {k: v for k, v in accs.items() if k != arrays[1]},  # not loaded
            {**accs, arrays[1]: b""},  # does not exist: no initialized ticks
            {**accs, arrays[1]: accs[arrays[2]]},  # another array's bytes: DecodeError
            {k: v for k, v in accs.items() if k != arrays[0]},  # first array not loaded
        ]
        for aux in variants:
            for amount in _amounts(rng, 150):
                _check(state, aux, amount, a_to_b)


@needs_kernel
def test_bench_workload_pools() -> None:
    w = Workload(40, 11, 4, 0)
    rng = random.Random(11)
    handled = 0
    for _ow, state, aux in workload_pools(w, (ow,)):
        for a_to_b in (True, False):
            for amount in _amounts(rng, 120):
                handled += _check(state, aux, amount, a_to_b)
    assert handled > 1000


@needs_kernel
def test_random_pools() -> None:
    """The oracle tests' generator: 700 pools, a few amounts each (their own, near a relative
    price move crossing several ticks, log-uniform, u64 edges)."""
    rng = random.Random(20251126)
    handled = static_ok = 0
    for _ in range(700):
        case, state, aux = random_case(rng)
        a_to_b = case["a_to_b"]
        for amount in (int(case["amount"]), *_amounts(rng, 3)[4:]):
            ok = _check(state, aux, amount, a_to_b)
            handled += ok
        if not state.adaptive_fee:
            static_ok += 1
    assert static_ok > 400 and handled > 1000


@needs_kernel
def test_plan_follows_state_and_arrays() -> None:
    """The plan is rebuilt with the slots: a new state object or new array bytes are seen."""
    accs = _folder("sol_usdc_ts64_HJPjoWUr/gabrielfior")
    key = Pubkey.from_string("HJPjoWUrhoZzkNfRpHuieeFk9WcZWjwy6PBjZ81ngndJ")
    state = ow.decode_pool(key, accs[key])
    amount = 5 * 10**12  # crosses into the second array
    first = ow.quote(state, accs, amount, True)
    moved = wl.Whirlpool(
        **{
            **{k: getattr(state, k) for k in state.__slots__},  # type: ignore[attr-defined]
            "liquidity": state.liquidity * 2,
        }
    )
    assert _check(moved, accs, amount, True)
    assert ow.quote(moved, accs, amount, True) != first
    second = ow.swap_tick_arrays(state, True)[1]
    emptied = {**accs, second: b""}
    assert _check(state, emptied, amount, True)
    assert ow.quote(state, emptied, amount, True) != first
    assert ow.quote(state, accs, amount, True) == first


@needs_kernel
def test_sqrt_price_at_tick_matches() -> None:
    rng = random.Random(3)
    ticks = [
        cm.MIN_TICK,
        cm.MAX_TICK,
        -1,
        0,
        1,
        *(rng.randint(cm.MIN_TICK, cm.MAX_TICK) for _ in range(5000)),
    ]
    assert [KERNEL.sqrt_price_at_tick(t) for t in ticks] == [
        cm.sqrt_price_at_tick(t) for t in ticks
    ]


@needs_kernel
def test_malformed_plan_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        KERNEL.swap_exact_in(b"\x00" * 10, 5)
    with pytest.raises(TypeError):
        KERNEL.swap_exact_in("plan", 5)
    accs = _folder("bono_usdc_ts64_DBJ5hywa")
    key = Pubkey.from_string("DBJ5hywaJQKfjyt8Ekng4t6KB1gvqnYFdcJoTppCNikt")
    state = ow.decode_pool(key, accs[key])
    plan = wp.build_plan(state, ow._slots(state, accs, False), False)
    assert KERNEL.swap_exact_in(plan, 10**6) is not None
    for amount in (10.0**6, "1000000", None):  # not an int: "not handled"
        assert KERNEL.swap_exact_in(plan, amount) is None
    with pytest.raises(ValueError):  # a plan cut short
        KERNEL.swap_exact_in(plan[:-1], 10**6)


def test_plan_refuses_what_the_kernel_does_not_cover() -> None:
    """Adaptive fee, unsorted or out-of-range offsets, liquidity_net beyond i128: no plan (the
    Python path runs)."""
    accs = _folder("sol_usdc_ts64_HJPjoWUr/gabrielfior")
    key = Pubkey.from_string("HJPjoWUrhoZzkNfRpHuieeFk9WcZWjwy6PBjZ81ngndJ")
    state = ow.decode_pool(key, accs[key])
    slots = ow._slots(state, accs, True)
    assert wp.build_plan(state, slots, True)
    fields = {k: getattr(state, k) for k in state.__slots__}  # type: ignore[attr-defined]
    adaptive = wl.Whirlpool(**{**fields, "fee_tier_index": state.tick_spacing + 1024})
    assert wp.build_plan(adaptive, slots, True) == b""
    start = slots[0].start_tick_index  # type: ignore[union-attr]
    tick = wl.Tick(1, 1)
    bad = [
        wl.TickArray(start, key, False, {5: tick, 3: tick}, (5, 3)),
        wl.TickArray(start, key, False, {88: tick}, (88,)),
        wl.TickArray(start, key, False, {3: tick}, (3, 4)),
        wl.TickArray(start, key, False, {3: wl.Tick(1 << 127, 1)}, (3,)),
        wl.TickArray(start, key, False, {3: wl.Tick(-(1 << 127) - 1, 1)}, (3,)),
    ]
    for arr in bad:
        assert wp.build_plan(state, [arr], True) == b""
    edge = wl.TickArray(start, key, False, {0: wl.Tick(-(1 << 127), 1), 87: tick}, (0, 87))
    assert wp.build_plan(state, [edge], True)


def _hand_pool(liquidity: int, nets: dict[int, int], a_to_b: bool) -> tuple[wl.Whirlpool, Aux]:
    """A pool at tick 100 (spacing 1) whose arrays hold ``nets`` (tick -> liquidity_net); its
    price is tick 100's (a->b: the first step crosses tick 100) or just below tick 101's."""
    rng = random.Random(liquidity ^ len(nets))
    key = Pubkey.from_bytes(rng.randbytes(32))
    mint_a, mint_b = sorted((Pubkey.from_bytes(rng.randbytes(32)) for _ in range(2)), key=bytes)
    zero = wl.RewardInfo(Pubkey.default(), Pubkey.default(), bytes(32), 0, 0)
    tick, ts = 100, 1
    price = cm.sqrt_price_at_tick(tick) if a_to_b else cm.sqrt_price_at_tick(tick + 1) - 1
    state = wl.Whirlpool(
        key, "orca_whirlpool", key, 255, ts, ts, 3000, 300, liquidity, price, tick, 0, 0,
        mint_a, key, 0, mint_b, key, 0, 0, (zero,) * 3,
    )  # fmt: skip
    aux: Aux = {}
    for start in wl.swap_start_indexes(tick, ts, a_to_b):
        ticks = {t - start: wl.Tick(n, abs(n) or 1) for t, n in nets.items() if 0 <= t - start < 88}
        aux[wl.tick_array_address(key, start)] = wl.encode_fixed_tick_array(start, key, ticks)
    return state, aux


@needs_kernel
def test_liquidity_net_extremes() -> None:
    """Crossing ticks whose liquidity_net is i128's minimum or maximum: exact sums up to u128's
    maximum, LiquidityOverflow / LiquidityUnderflow beyond."""
    lo, hi, top = -(1 << 127), (1 << 127) - 1, 1 << 127
    over, under = ow.CODES["LiquidityOverflow"], ow.CODES["LiquidityUnderflow"]
    past = ow.CODES["TickArraySequenceInvalidIndex"]
    cases = [  # liquidity, nets, a_to_b, outcome of the crossing (code, or None: crossed)
        (top, {100: lo}, True, over),  # a->b adds 2^127: 2^128
        (top - 1, {100: lo, 90: hi}, True, None),  # 2^128 - 1, then 1
        (5, {100: hi}, True, under),
        (top, {101: lo}, False, past),  # b->a takes 2^127: 0, then runs out of arrays
        (top - 1, {101: lo}, False, under),
        (top, {101: hi, 110: lo}, False, None),  # 2^128 - 1, then 2^127 - 1
        (top + 1, {101: hi}, False, over),
    ]
    rng = random.Random(9)
    for liquidity, nets, a_to_b, want in cases:
        state, aux = _hand_pool(liquidity, nets, a_to_b)
        seen, crossed = set(), 0
        # b->a needs about 2^63 of token B to move the price one unit at this liquidity
        big = [1, 10**6, 3 << 62, 7 << 61, U64]
        for amount in [*big, *(int(2 ** rng.uniform(0, 64)) for _ in range(100))]:
            _check(state, aux, amount, a_to_b)
            outcome = _python_outcome(state, aux, amount, a_to_b)
            ok = not isinstance(outcome[0], str)
            seen.add(None if ok else outcome[1])
            if ok and want is None:
                crossed += bool(
                    ow.quote_detail(state, aux, amount, a_to_b, detail=True).swap.crossed
                )
        assert want in seen, (liquidity, nets, seen)
        assert want is not None or crossed


@needs_kernel
def test_kernel_quotes_are_plain_quotes() -> None:
    """The kernel fills a Quote through its slots (native/whirlpool.c make_quote): exactly these
    fields, so a field added to Quote must be added there too."""
    assert [f.name for f in dataclasses.fields(Quote)] == [
        "amount_in",
        "amount_out",
        "fee",
        "arrays",
    ]
    accs = _folder("bono_usdc_ts64_DBJ5hywa")
    key = Pubkey.from_string("DBJ5hywaJQKfjyt8Ekng4t6KB1gvqnYFdcJoTppCNikt")
    state = ow.decode_pool(key, accs[key])
    q = ow.quote(state, accs, 10**6, False)
    assert type(q) is Quote and q == Quote(q.amount_in, q.amount_out, q.fee) and q.arrays == ()
    assert hash(q) == hash(Quote(q.amount_in, q.amount_out, q.fee))
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.fee = 0  # type: ignore[misc]


class _Big(int):
    """An int subclass: the bound quoter treats it as the int it is."""


@needs_kernel
def test_bound_quoter_matches_python() -> None:
    """The C bound quoter (its plan parsed once, at binding) against the Python quote, bench pools
    and the real dump, edge amounts (0, negative, u64 bounds, beyond u64, int subclasses, bool,
    not ints) included, each amount probed twice."""
    pools = [(state, aux) for _ow, state, aux in workload_pools(Workload(40, 11, 4, 0), (ow,))]
    accs = _folder("sol_usdc_ts64_HJPjoWUr/gabrielfior")
    key = Pubkey.from_string("HJPjoWUrhoZzkNfRpHuieeFk9WcZWjwy6PBjZ81ngndJ")
    pools.append((ow.decode_pool(key, accs[key]), accs))
    rng = random.Random(4)
    bound_c = 0
    for state, aux in pools:
        for a_to_b in (True, False):
            bound = ow.quoter(state, aux, a_to_b)
            bound_c += type(bound).__name__ == "Bound"
            amounts: list[Any] = _amounts(rng, 40) + [_Big(10**6), True, False, 10.0**6, "5"]
            for amount in amounts + amounts[::-1]:
                want = _python_outcome(state, aux, amount, a_to_b)
                assert _outcome(lambda: bound(amount)) == want, (amount, a_to_b)  # noqa: B023
    assert bound_c >= 15, bound_c


@needs_kernel
def test_bound_malformed_plan_raises_per_call() -> None:
    """A plan that does not parse binds, then raises its ValueError on each call with an int (as
    quote_exact_in does); anything else still goes to general."""
    seen: list[Any] = []

    def general(state: Any, aux: Any, x: Any, a_to_b: Any) -> Any:
        seen.append(x)
        return x

    for plan in (b"\x00" * 10, b""):
        bound = KERNEL.bind(plan, Quote, general, None, {}, True)
        for _ in range(2):
            with pytest.raises(ValueError, match="malformed swap plan"):
                bound(10**6)
            with pytest.raises(ValueError):
                bound(-1)
        assert bound("x") == "x" and bound(1.5) == 1.5
    assert seen == ["x", 1.5, "x", 1.5]
    with pytest.raises(TypeError):
        KERNEL.bind(bytearray(10), Quote, general, None, {}, True)


T22 = "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb"


@needs_kernel
def test_moved_state_keeps_the_arrays_part_of_the_plan() -> None:
    """A later state of a pool over the same tick arrays (price, liquidity and tick moved within
    the arrays' window) moves the kept entry with its header set by ``with_head``: the plan is
    byte-equal to a cold one and the bound quoter answers as the cold one and Python do. States
    that change anything else the plan reads (tick out of the window, fee rate, fee tier,
    token program, negative reward time, price or liquidity beyond u128) are built anew."""
    pools = [(state, aux) for _ow, state, aux in workload_pools(Workload(40, 11, 4, 0), (ow,))]
    accs = _folder("sol_usdc_ts64_HJPjoWUr/gabrielfior")
    key = Pubkey.from_string("HJPjoWUrhoZzkNfRpHuieeFk9WcZWjwy6PBjZ81ngndJ")
    pools.append((ow.decode_pool(key, accs[key]), accs))
    rng = random.Random(8)
    moved = rebuilt = 0
    for state, aux in pools:
        for a_to_b in (True, False):
            ck = (state.address, a_to_b)
            prev = state
            ow.quoter(state, aux, a_to_b)
            for step in range(12):
                spacing, lo, hi = ow._window(prev.tick_current_index, prev.tick_spacing, a_to_b)
                kind = step % 6 if step >= 6 else 0
                tick = rng.randrange(lo, hi) if kind != 1 else hi + rng.randrange(3)
                tick = max(cm.MIN_TICK, min(cm.MAX_TICK - 1, tick))
                price = cm.sqrt_price_at_tick(tick) + rng.randrange(2)
                changes: dict[str, Any] = {"tick_current_index": tick, "sqrt_price": price,
                                           "liquidity": rng.randrange(2**rng.randrange(1, 110))}
                if kind == 2:
                    changes["fee_rate"] = prev.fee_rate + 1
                elif kind == 3:
                    field = rng.choice(("fee_tier_index", "token_program_a", "token_program_b"))
                    changes[field] = (prev.fee_tier_index + 1 if field == "fee_tier_index"
                                      else Pubkey.from_string(T22))  # fmt: skip
                elif kind == 4:
                    changes["reward_last_updated_timestamp"] = -1
                elif kind == 5:
                    changes[rng.choice(("sqrt_price", "liquidity"))] = 2**128
                new = dataclasses.replace(prev, **changes)
                before = ow._SLOTS.get(ck)  # its state: prev
                warm = ow.quoter(new, aux, a_to_b)
                e = ow._SLOTS.get(ck)
                kept = e is before
                warm_plan = None if e is None or e.state is not new else (e.plan, e.plain)
                moved += kept
                rebuilt += not kept
                saved = ow._SLOTS, wp._BLOBS
                ow._SLOTS, wp._BLOBS = {}, {}
                try:
                    cold = ow.quoter(new, aux, a_to_b)
                    c = ow._SLOTS.get(ck)
                    cold_plan = None if c is None else (c.plan, c.plain)
                finally:
                    ow._SLOTS, wp._BLOBS = saved
                if new.adaptive_fee:  # no plan for it, whatever the kept entry holds
                    assert ow._native_quote(new, aux, 10**6, a_to_b) is None
                if warm_plan is not None or kept:
                    assert warm_plan == cold_plan, (state.address, step, kind)
                for amount in [*_amounts(rng, 6), 10**6]:
                    want = _python_outcome(new, aux, amount, a_to_b)
                    assert _outcome(lambda: warm(amount)) == want, (step, kind)  # noqa: B023
                    assert _outcome(lambda: cold(amount)) == want, (step, kind)  # noqa: B023
                if kind == 0 or rng.random() < 0.5:
                    prev = new
    assert moved > 100 and rebuilt > 40, (moved, rebuilt)


@needs_kernel
def test_with_head_sets_the_header_fields_only() -> None:
    """``with_head`` writes price, liquidity and tick as ``_PLAN_HEAD`` packs them and copies the
    rest; None for a number outside its field; a short plan or wrong types raise."""
    rng = random.Random(2)
    for _ in range(200):
        plan = bytes(rng.randrange(256) for _ in range(64 + rng.randrange(3) * 24))
        price, liq = rng.randrange(2**128), rng.randrange(2**rng.randrange(1, 129))
        tick = rng.randrange(-(2**31), 2**31)
        head = wp.PLAN_HEAD.pack(price & U64, price >> 64, liq & U64, liq >> 64, tick, 0, 0, 0, 0)
        assert KERNEL.with_head(plan, price, liq, tick) == head[:36] + plan[36:]
    plan = bytes(64)
    for args in ((-1, 0, 0), (2**128, 0, 0), (0, -1, 0), (0, 2**128, 0), (0, 0, 2**31),
                 (0, 0, -(2**31) - 1), (0, 0, 2**70)):  # fmt: skip
        assert KERNEL.with_head(plan, *args) is None, args
    with pytest.raises(ValueError, match="malformed swap plan"):
        KERNEL.with_head(bytes(63), 0, 0, 0)
    for bad in ((bytearray(64), 0, 0, 0), (plan, 0.5, 0, 0), (plan, 0, 0, 1.0), (plan, 0, 0)):
        with pytest.raises(TypeError):
            KERNEL.with_head(*bad)
