"""The Raydium CLMM kernel (``solarb.native._raydium_clmm``) against the pure-Python swap: the
public ``quote`` with the kernel on and off gives the same Quote (amounts, fee, arrays) or the
same typed error (type, code, message) on the real SOL/USDC dump, the bench workload's pools and
the oracle tests' random pools (spacings 1..200, fee_on, near the price bounds, the bitmap
extension, many narrow positions crossing many ticks, limit orders and dynamic fees left to
Python), Token-2022 transfer fees and changed accounts, amounts from 0 to past u64. The kernel
covers every quote the program accepts on a pool without limit orders or dynamic fee, and
never answers where Python raises (other than the same InsufficientLiquidity)."""

from __future__ import annotations

import base64
import json
import random
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
from solders.pubkey import Pubkey

from solarb import native
from solarb.dex import clmm_math as cm
from solarb.dex import raydium_clmm as rc
from solarb.dex import raydium_clmm_layout as lay
from solarb.dex.base import InsufficientLiquidity, Quote, QuoteError
from solarb.dex.spl_token import TOKEN_2022_PROGRAM_ID, decode_token_account, encode_mint
from solarb.runtime.bench_workload import _ADAPTER, Workload
from solarb.sim.programs.raydium_clmm import create_pool
from tests.support.clmm_cases import depth_amount as _depth_amount
from tests.support.clmm_cases import random_pool as _random_pool
from tests.support.data import SHARED_DATA
from tests.support.workload_pools import workload_pools

DUMP = SHARED_DATA / "accounts" / "raydium_clmm" / "sol_usdc_3ucNos4N" / "clmm_wsol_usdc.subset.json"
POOL = Pubkey.from_string("3ucNos4NbumPLZNWztqGHNFFgkHeRMBQAVemeeomsUxv")
U64 = cm.U64_MAX
KERNEL = rc._NATIVE
needs_kernel = pytest.mark.skipif(KERNEL is None, reason="raydium_clmm kernel disabled (SOLARB_NATIVE=0)")

Aux = dict[Pubkey, bytes]


def test_kernel_is_loaded() -> None:
    """CI builds the extension: a missing .so fails here unless SOLARB_NATIVE=0 asks for Python."""
    if not native.enabled():
        assert rc._NATIVE is None
        return
    assert rc._NATIVE is not None, "build it: SOLARB_NATIVE_ONLY=raydium_clmm python setup.py build_ext --inplace"
    assert native.status()["raydium_clmm"]


@contextmanager
def _python_only() -> Iterator[None]:
    saved = rc._NATIVE
    rc._NATIVE = None
    try:
        yield
    finally:
        rc._NATIVE = saved


def _outcome(fn: Callable[[], Any]) -> object:
    try:
        q = fn()
    except Exception as exc:  # noqa: BLE001 - the typed error is part of the outcome
        return (type(exc).__name__, getattr(exc, "code", None), str(exc))
    return None if q is None else (q.amount_in, q.amount_out, q.fee, q.arrays)


def _check(state: lay.ClmmPool, aux: Aux, amount: int, a_to_b: bool, *, covered: bool = False) -> bool:
    """Kernel and Python agree on ``quote``; True when the kernel computed it. ``covered``: the
    program accepting the swap means the kernel must compute it."""
    with _python_only():
        want = _outcome(lambda: rc.quote(state, aux, amount, a_to_b))
    got = _outcome(lambda: rc.quote(state, aux, amount, a_to_b))
    assert got == want, (state.address, amount, a_to_b)
    if not 0 < amount <= U64:
        return False
    direct = _outcome(lambda: rc._native_quote(state, aux, amount, a_to_b))
    if direct is None:
        assert not (covered and not isinstance(want[0], str)), ("not covered", state.address, amount, a_to_b)  # type: ignore[index]
        return False
    if isinstance(direct[0], str):  # type: ignore[index]
        assert direct == want and direct[0] in ("InsufficientLiquidity", "MissingAccount"), direct  # type: ignore[index]
        return direct[0] == "InsufficientLiquidity"  # type: ignore[index]
    assert direct == want, (state.address, amount, a_to_b)
    return True


def _amounts(rng: random.Random, n: int) -> list[int]:
    edges = [0, 1, 2, 999, U64 - 1, U64, U64 + 1, 2**63, -1]
    return edges + [int(2 ** rng.uniform(0, 64)) for _ in range(n)]


def _real() -> Aux:
    doc = json.loads(DUMP.read_text())
    return {Pubkey.from_string(k): base64.b64decode(v["data"]) for k, v in doc["accounts"].items()}


def _orders_or_dynamic(state: lay.ClmmPool, aux: Aux) -> bool:
    """The pool has a dynamic fee or limit orders in some tick array (the kernel leaves those
    swaps to Python where they reach an order)."""
    if state.dynamic_fee.enabled:
        return True
    for key, data in aux.items():
        if len(data) == lay.TICK_ARRAY_LEN and data[:8] == lay.TICK_ARRAY_DISCRIMINATOR:
            if any(t.has_limit_orders for t in lay.decode_tick_array(key, data).ticks.values()):
                return True
    return False


@needs_kernel
def test_sqrt_price_and_tick_math_match() -> None:
    rng = random.Random(11)
    ticks = [lay.MIN_TICK, lay.MAX_TICK, 0, 1, -1] + [rng.randint(lay.MIN_TICK, lay.MAX_TICK) for _ in range(20_000)]
    for t in ticks:
        assert KERNEL.sqrt_price_at_tick(t) == cm.raydium_sqrt_price_at_tick(t), t
    prices = [cm.MIN_SQRT_PRICE_X64, cm.RAYDIUM_MAX_SQRT_PRICE_X64 - 1, 1 << 64, (1 << 64) - 1]
    for t in ticks[:5000]:
        p = cm.raydium_sqrt_price_at_tick(t)
        prices += [p, p - 1, p + 1, p + rng.randint(0, 1 << 40)]
    for p in prices:
        if cm.MIN_SQRT_PRICE_X64 <= p < cm.RAYDIUM_MAX_SQRT_PRICE_X64:
            assert KERNEL.tick_at_sqrt_price(p) == cm.raydium_tick_at_sqrt_price(p), p
    for p in (0, cm.MIN_SQRT_PRICE_X64 - 1, cm.RAYDIUM_MAX_SQRT_PRICE_X64):
        with pytest.raises(ValueError):
            KERNEL.tick_at_sqrt_price(p)


@needs_kernel
def test_real_dump() -> None:
    aux = _real()
    state = rc.decode_pool(POOL, aux[POOL])
    rng = random.Random("real")
    handled = 0
    for a_to_b in (True, False):
        for amount in _amounts(rng, 700):
            handled += _check(state, aux, amount, a_to_b)
    assert handled > 700
    # the dense spacing-1 arrays: a big swap crosses many ticks in the kernel
    assert len(rc.quote_detail(state, aux, 10**12, True).result.updated_ticks) > 10
    assert _check(state, aux, 10**12, True)


@needs_kernel
def test_bench_workload_pools() -> None:
    w = Workload(40, 7, 4, 0)
    rng = random.Random(7)
    handled = pools = 0
    for _rc, state, aux in workload_pools(w, (rc,)):
        pools += 1
        for a_to_b in (True, False):
            for amount in _amounts(rng, 300):
                handled += _check(state, aux, amount, a_to_b, covered=True)
    assert pools >= 8 and handled > pools * 400


@needs_kernel
def test_random_pools() -> None:
    """The oracle tests' pool generator: crossings, exhausted liquidity, extension navigation,
    price bounds, fee_on, limit orders and dynamic fees (the last two: Python)."""
    rng = random.Random(2026_6)
    handled = plain = insufficient = 0
    for _ in range(250):
        pool, aux = _random_pool(rng)
        state = rc.decode_pool(pool, aux[pool])
        covered = not _orders_or_dynamic(state, aux)
        plain += covered
        for a_to_b in (True, False):
            amounts = [_depth_amount(rng, state, aux, a_to_b) for _ in range(3)]
            amounts += [int(2 ** rng.uniform(0, 64)) for _ in range(3)] + [U64]
            for amount in amounts:
                handled += _check(state, aux, amount, a_to_b, covered=covered)
            try:
                rc.quote(state, aux, U64, a_to_b)
            except QuoteError as exc:
                insufficient += isinstance(exc, InsufficientLiquidity)
    assert plain >= 80 and handled >= 1500 and insufficient >= 50, (plain, handled, insufficient)


@needs_kernel
def test_quote_exact_in_is_swap_exact_in_as_a_quote() -> None:
    """The bound quoter's probe (``quote_exact_in``) is ``swap_exact_in`` made into a Quote
    (None wherever that answered None, False or nothing out), and the bound quoter answers as the
    Python path, on the bench pools and the random pools."""
    rng = random.Random(2026_11)
    w = Workload(20, 3, 4, 0)
    pools = [(state, aux) for _rc, state, aux in workload_pools(w, (rc,))]
    for _ in range(120):
        pool, aux = _random_pool(rng)
        pools.append((rc.decode_pool(pool, aux[pool]), aux))
    kernel = rc._NATIVE
    quotes = nones = 0
    for state, aux in pools:
        for a_to_b in (True, False):
            amounts = _amounts(rng, 8)
            if state.vault_a in aux and state.vault_b in aux:  # the random pools hold them
                amounts += [_depth_amount(rng, state, aux, a_to_b) for _ in range(3)]
            c = rc.current_plan(state, aux, a_to_b)
            bound = rc.quoter(state, aux, a_to_b)
            for amount in amounts:
                with _python_only():
                    want = _outcome(lambda: rc.quote(state, aux, amount, a_to_b))  # noqa: B023
                assert _outcome(lambda: bound(amount)) == want, (state.address, amount)  # noqa: B023
                if c.plan is None or c.nav is None:
                    continue
                r = kernel.swap_exact_in(c.plan, amount) if 0 < amount <= U64 else None  # type: ignore[union-attr]
                expect = None if not r or not r[1] else (amount, r[1], r[2], c.nav.prefixes[r[3]])
                q = kernel.quote_exact_in(c.plan, amount, Quote, c.nav.prefixes)  # type: ignore[union-attr]
                assert q is None or type(q) is Quote
                assert _outcome(lambda: q) == expect, (state.address, amount)  # noqa: B023
                quotes += q is not None
                nones += q is None
    assert quotes > 1500 and nones > 300, (quotes, nones)


@needs_kernel
def test_pools_through_many_states() -> None:
    """Pools whose state moves (swaps through the sim Bank cross ticks and arrays, write tick
    arrays): the navigation and ticks a plan reuses across states, and those it rebuilds, give
    every state Python's quotes. One aux dict per pool, updated in place as the market does."""
    w = Workload(10, 5, 4, 0)
    rng = random.Random(5)
    pools = [p[0] for p in w.pools if _ADAPTER[p[1]] is rc]
    auxes: dict[Pubkey, Aux] = {p: {} for p in pools}
    handled = 0
    arrays_seen: set[tuple[Pubkey, tuple[Pubkey, ...]]] = set()
    reused = 0  # plans that kept the previous state's ticks
    for _ in range(60):
        for address in pools:
            state = rc.decode_pool(address, w.bank.get_account(address).data)
            aux = auxes[address]
            for k in rc.aux_accounts(state):
                aux[k] = w._data(k)
            for a_to_b in (True, False):
                before = rc._PLANS[a_to_b].get(address)
                for amount in [int(2 ** rng.uniform(0, 50)) for _ in range(5)]:
                    handled += _check(state, aux, amount, a_to_b, covered=True)
                reused += before is not None and rc._PLANS[a_to_b][address].ticks is before.ticks
                arrays_seen.add((address, tuple(rc.navigation(state, rc.pool_extension(state, aux), a_to_b).keys)))
            a_to_b = rng.random() < 0.5
            reserve = decode_token_account(w._data(state.vault_a if a_to_b else state.vault_b)).amount
            ix = rc.swap_instruction(state, w.trader.pubkey(), max(1, int(reserve * rng.uniform(0.002, 0.2))), 0,
                                     a_to_b, aux=aux)  # fmt: skip
            w._send(ix)
    assert handled > 1000 and len(arrays_seen) > 2 * len(pools) and reused > 40, (handled, len(arrays_seen), reused)


def _fee_mint(bps: int, max_fee: int) -> bytes:
    """A Token-2022 mint with a TransferFeeConfig (same fee in both epochs)."""
    mint = bytes(encode_mint(6, 10**18)) + bytes(83) + b"\x01"
    return mint + struct.pack("<HH", 1, 108) + bytes(64) + struct.pack("<QQQHQQH", 0, 0, max_fee, bps, 0, max_fee, bps)


def _small_pool(**kw: Any) -> tuple[lay.ClmmPool, Aux]:
    params: dict[str, Any] = dict(
        mint_a=Pubkey.from_bytes(bytes([3]) * 32), mint_b=Pubkey.from_bytes(bytes([200]) * 32), tick_spacing=10,
        trade_fee_rate=3000, price=1, positions=[(-600, 600, 10**12), (-1200, -590, 5 * 10**11), (-3000, 3000, 10**9)],
    )  # fmt: skip
    params.update(kw)
    pool, accounts = create_pool(**params)
    aux = {k: a.data for k, a in accounts.items()}
    return rc.decode_pool(pool, aux[pool]), aux


def _sweep(state: lay.ClmmPool, aux: Aux, seed: object, n: int = 60, covered: bool = False) -> int:
    rng = random.Random(str(seed))
    return sum(_check(state, aux, a, d, covered=covered) for d in (True, False) for a in _amounts(rng, n))


@needs_kernel
def test_transfer_fees_fee_on_and_changed_accounts() -> None:
    for fee_on in (0, 1, 2):
        state, aux = _small_pool(token_program_a=TOKEN_2022_PROGRAM_ID, token_program_b=TOKEN_2022_PROGRAM_ID,
                                 fee_on=fee_on)  # fmt: skip
        aux[state.mint_a], aux[state.mint_b] = _fee_mint(50, 10**9), _fee_mint(200, 3_000)
        state = rc.resolve_token_programs(state, aux)
        assert state.token_program_b == TOKEN_2022_PROGRAM_ID
        assert _sweep(state, aux, ("fees", fee_on), covered=True) > 100
        assert _sweep(state, {k: v for k, v in aux.items() if k != state.mint_b}, "no mint") == 0
    state, aux = _small_pool()
    assert _sweep(state, aux, "warm", covered=True) > 100
    for a_to_b in (True, False):
        arrays = [lay.tick_array_address(state.address, s) for s in rc.swap_tick_arrays(state, a_to_b)]
        variants = [
            {k: v for k, v in aux.items() if k != arrays[1]},  # not loaded: MissingAccount when reached
            {**aux, arrays[1]: b""},  # does not exist: DecodeError
            {**aux, arrays[1]: aux[arrays[0]]},  # another array's bytes: InvalidTickArray
            {k: v for k, v in aux.items() if k != state.amm_config},  # MissingAccount
            {k: v for k, v in aux.items() if k != lay.bitmap_extension_address(state.address)},
            aux,
        ]
        for i, variant in enumerate(variants):  # the same state object: the plan must follow aux
            _sweep(state, variant, ("variant", a_to_b, i))
    for changed in (replace(state, status=1 << 4), replace(state, open_time=2**40), replace(state, liquidity=0),
                    replace(state, tick_array_bitmap=0), replace(state, sqrt_price_x64=cm.MIN_SQRT_PRICE_X64 + 1)):
        aux[rc.CLOCK_SYSVAR] = struct.pack("<QqQQq", 1000, 0, 700, 701, 1_760_000_000)
        _sweep(state, aux, "base")
        _sweep(changed, aux, ("changed", changed.status, changed.open_time, changed.liquidity))


@needs_kernel
def test_limit_orders_are_left_to_python_where_reached() -> None:
    state, aux = _small_pool(limit_orders=[(-300, 10**9, 0), (300, 10**9, 10**6)])
    handled = _sweep(state, aux, "orders", n=200)
    assert handled > 100  # small swaps that stop before an order tick stay in the kernel
    for a_to_b in (True, False):  # a swap through an order tick goes to Python (which fills it)
        assert rc._native_quote(state, aux, 10**11, a_to_b) is None
        assert _check(state, aux, 10**11, a_to_b) is False


def test_tick_array_decode_round_trips() -> None:
    """The one-pass tick-array decode (the plans' input) against random encoded ticks: signed
    liquidity_net, u128 fields at their bounds, limit-order-only ticks, untouched slots."""
    rng = random.Random(17)
    key, pool = Pubkey.from_bytes(bytes([7]) * 32), Pubkey.from_bytes(bytes([8]) * 32)
    u128 = lambda: rng.choice((0, 1, 2**64 - 1, 2**64, 2**128 - 1, rng.getrandbits(128)))  # noqa: E731
    for _ in range(40):
        ticks = {}
        for off in rng.sample(range(lay.TICK_ARRAY_SIZE), rng.randint(0, lay.TICK_ARRAY_SIZE)):
            orders_only = rng.random() < 0.1
            ticks[off] = lay.TickState(
                600 + off * 10, rng.choice((-(2**127), -1, 0, 1, 2**127 - 1, rng.getrandbits(127) - 2**126)),
                0 if orders_only else max(1, u128()), u128(), u128(), (u128(), u128(), u128()),
                rng.getrandbits(64), rng.getrandbits(64) | orders_only, rng.getrandbits(64), u128(),
            )  # fmt: skip
        arr = lay.decode_tick_array(key, lay.encode_tick_array(pool, 600, ticks))
        assert arr.ticks == ticks and arr.start_tick_index == 600 and arr.pool_id == pool


@needs_kernel
def test_malformed_plan_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        KERNEL.swap_exact_in(b"\0" * 10, 5)
    with pytest.raises(TypeError):
        KERNEL.swap_exact_in(b"\0" * 72, 1.5)
    state, aux = _small_pool()
    rc.quote(state, aux, 10**6, True)
    plan = rc._PLANS[True][state.address].plan
    assert plan is not None and KERNEL.swap_exact_in(plan, 10**6) is not None
    with pytest.raises(ValueError):
        KERNEL.swap_exact_in(plan[:-1], 10**6)
    assert KERNEL.swap_exact_in(plan, 0) is None and KERNEL.swap_exact_in(plan, 2**64) is None
    assert KERNEL.swap_exact_in(plan, -1) is None
