"""TxBuilder's per-hop instruction cache: a new route made of hops seen before is compiled from
the hops' stored instructions (no adapter call), and every build stays byte-identical to the
reference (``MessageV0.try_compile`` + sign) over random routes of the bench market: all five
DEX kinds, 2 and 3 hops, with and without a lookup table, known and unknown token accounts."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import to_bytes_versioned
from solders.pubkey import Pubkey

from solarb.dex.spl_token import TOKEN_PROGRAM_ID, associated_token_address
from solarb.execution.builder import TxBuilder
from solarb.execution.template import Template
from solarb.runtime.bench_workload import Workload
from tests.execution.test_builder_template import (
    KINDS,
    PAYER,
    Leg,
    Pools,
    _builder,
    _lookup_table,
    _lookup_tables,
    _order,
    _outcome,
    _pools,
    _routes,
    _same,
)

_ADAPTER_FUNCS = ("swap_instruction", "swap_instruction_key", "swap_data", "quote", "NAME")


class Adapter:
    """An adapter standing for ``module``: its functions but those in ``overrides``."""

    def __init__(self, module: ModuleType, **overrides: Any) -> None:
        self.module = module
        for name in _ADAPTER_FUNCS:
            setattr(self, name, overrides.get(name, getattr(module, name)))


class Counting(Adapter):
    """An adapter module whose ``swap_instruction`` calls are counted (same functions)."""

    def __init__(self, module: ModuleType) -> None:
        super().__init__(module)
        del self.swap_instruction  # the method below
        self.calls = 0

    def swap_instruction(self, *args: Any, **kw: Any) -> Instruction:
        self.calls += 1
        return self.module.swap_instruction(*args, **kw)  # type: ignore[no-any-return]


def _counted(pools: Pools) -> tuple[Pools, list[Counting]]:
    """``pools`` with each adapter module replaced by one shared :class:`Counting` proxy."""
    proxies: dict[str, Counting] = {}
    out: Pools = {}
    for address, (module, state, aux) in pools.items():
        proxy = proxies.setdefault(module.__name__, Counting(module))
        out[address] = (proxy, state, aux)
    return out, list(proxies.values())


def _variant_kw(w: Workload, pools: Pools, variant: str) -> dict[str, Any]:
    if variant == "lookup_table":
        return {"lookup_tables": [_lookup_table(pools)]}
    if variant == "known_atas":  # SOL's account exists, USDC's and the tokens' are created
        return {"slippage_bps": 25,
                "known_atas": [associated_token_address(PAYER.pubkey(), w.sol, TOKEN_PROGRAM_ID)]}
    return {}


@pytest.mark.parametrize("variant", ["plain", "lookup_table", "known_atas"])
def test_new_routes_of_seen_hops_compile_without_adapter_calls(variant: str) -> None:
    w = Workload(30, 7, 4, 0)
    base = _pools(w)
    pools, proxies = _counted(base)
    rng = random.Random(variant)
    routes = _routes(w)
    rng.shuffle(routes)
    builder = _builder(pools, **_variant_kw(w, base, variant))
    hashes = (Hash(rng.randbytes(32)) for _ in range(10**6))
    orders = [o for i, r in enumerate(routes) if (o := _order(pools, r, 10**8, f"r{i}")) is not None]
    for order in orders:  # every route and hop new
        _same(builder, order, next(hashes))
    builder.templates.clear()  # every route new again, every hop seen
    calls = sum(p.calls for p in proxies)
    misses = builder.templates.misses
    kinds: dict[int, set[str]] = {2: set(), 3: set()}
    for order in orders:
        _same(builder, order, next(hashes))
        kinds[len(order.opportunity.hops)] |= {h.dex for h in order.opportunity.hops}
    assert kinds[2] == KINDS and kinds[3] == KINDS
    assert builder.templates.misses == misses + len({_key(builder, o) for o in orders})
    # build_reference calls each adapter once per hop: build itself made no instruction
    assert sum(p.calls for p in proxies) - calls == sum(len(o.opportunity.hops) for o in orders)


def _key(builder: TxBuilder, order: Any) -> tuple[object, ...]:
    """The order's template key as the builder forms it."""
    key = builder._plan(order, builder._route(order))[0]
    assert key is not None
    return key


@pytest.mark.parametrize("variant", ["plain", "lookup_table", "known_atas"])
def test_random_routes_as_the_market_moves_equal_the_reference(variant: str) -> None:
    """Routes drawn at random, some amounts repeated, the market moving between rounds (new
    states, arrays): misses of seen hops, of new hops, and hits, all equal the reference."""
    w = Workload(30, 7, 4, 0)
    pools = _pools(w)
    rng = random.Random(f"moving-{variant}")
    routes = _routes(w)
    builder = _builder(pools, **_variant_kw(w, pools, variant))
    if variant == "known_atas":  # and some accounts become known on the way
        builder.mark_known([associated_token_address(PAYER.pubkey(), w.usdc, TOKEN_PROGRAM_ID)])
    n = 0
    for step in range(3):
        for i in range(120):
            route = rng.choice(routes)
            amount = rng.choice((10**7, 10**8, 3 * 10**8, 2 * 10**9))
            order = _order(pools, route, amount, f"{step}-{i}")
            if order is not None:
                _same(builder, order, Hash(rng.randbytes(32)))
                n += 1
        for _ in range(60):
            w._swap()
        pools.clear()
        pools.update(_pools(w))
    cache = builder.templates
    assert n >= 250 and cache.hits >= 20 and cache.misses >= 50, (n, cache.hits, cache.misses)


@pytest.mark.parametrize("tabled", [False, True])
def test_evicted_hops_are_made_again(tabled: bool) -> None:
    """With room for two hops, entries come and go: every route of one token (the same created
    accounts) twice, then the first again with its templates dropped: equal to the reference,
    and the second round hits every template; the same with many lookup tables (each message
    against the tables its route uses)."""
    w = Workload(30, 7, 4, 0)
    pools = _pools(w)
    builder = _builder(pools, hop_capacity=2, lookup_tables=_lookup_tables(pools) if tabled else ())
    by_token: dict[tuple[int, Pubkey], list[list[Leg]]] = {}
    for route in _routes(w):
        state = pools[route[-1][0]][1]
        token = state.mint_b if state.mint_a == w.sol else state.mint_a
        by_token.setdefault((len(route), token), []).append(route)
    same_token = max(by_token.values(), key=len)
    assert len(same_token) >= 3
    for i, route in enumerate(same_token * 2):
        order = _order(pools, route, 10**8 + i, f"e{i}")
        assert order is not None
        _same(builder, order, Hash(bytes([i]) * 32))
    assert len(builder._hops) <= 2
    assert (builder.templates.misses, builder.templates.hits) == (len(same_token),) * 2
    builder.templates.clear()
    for i, route in enumerate(same_token):
        order = _order(pools, route, 3 * 10**8 + i, f"again{i}")
        assert order is not None
        _same(builder, order, Hash(bytes([i + 100]) * 32))
    with pytest.raises(ValueError):
        _builder(pools, hop_capacity=0)


def test_the_same_hops_in_another_order_are_another_route() -> None:
    """Two 2-hop cycles chained both ways (4 hops, the same hops; every account known, so no
    creates tell them apart): the template key keeps the hops' order."""
    w = Workload(30, 7, 4, 0)
    pools = _pools(w)
    two = [r for r in _routes(w) if len(r) == 2]
    token = {r[0][0]: pools[r[0][0]][1].mint_a for r in two}  # SOL -> token -> SOL
    first = two[0]
    second = next(r for r in two if token[r[0][0]] != token[first[0][0]])
    builder = _builder(pools)
    bh = Hash(bytes([8]) * 32)
    for i, route in enumerate((first + second, second + first)):
        order = _order(pools, route, 10**8, f"o{i}")
        assert order is not None
        builder.mark_known(a.address for a in builder.route_accounts(order))
        _same(builder, order, bh)
    assert builder.templates.misses == 2


def test_a_hop_twice_in_one_route_takes_each_amount() -> None:
    """A 2-hop cycle run twice (4 hops, the same two hops again with other amounts): the
    second use of a hop made in the same build must get its own data."""
    w = Workload(30, 7, 4, 0)
    pools = _pools(w)
    cycle = next(r for r in _routes(w) if len(r) == 2)
    builder = _builder(pools)
    order = _order(pools, cycle + cycle, 10**8, "twice")
    assert order is not None
    hops = order.opportunity.hops
    assert hops[0].amount_in != hops[2].amount_in
    _same(builder, order, Hash(bytes([6]) * 32))
    _same(builder, order, Hash(bytes([7]) * 32))
    assert (builder.templates.misses, builder.templates.hits, len(builder._hops)) == (1, 1, 2)


def _forked(module: Any, program: Pubkey) -> Adapter:
    """``module``'s functions, but its swap instruction calls ``program`` (a fork's deployment
    with the same accounts and data: the same ``swap_instruction_key``)."""

    def swap_instruction(*args: Any, **kw: Any) -> Instruction:
        ix = module.swap_instruction(*args, **kw)
        return Instruction(program, ix.data, ix.accounts)

    return Adapter(module, swap_instruction=swap_instruction)


def _first(w: Workload, pools: Pools, pick: Callable[[list[Leg]], bool]) -> Any:
    order = next(o for r in _routes(w) if pick(r) and (o := _order(pools, r, 10**8, "f")))
    return order


def _setup(n_hops: int) -> tuple[Pools, TxBuilder, Any]:
    """The 30-pool workload's pools, a builder over them and its first ``n_hops`` order."""
    w = Workload(30, 7, 4, 0)
    pools = _pools(w)
    return pools, _builder(pools), _first(w, pools, lambda r: len(r) == n_hops)


def test_the_hop_key_holds_the_adapter() -> None:
    """Two adapters with equal instruction keys (a fork) give different hops."""
    pools, builder, order = _setup(2)
    bh = Hash(bytes([7]) * 32)
    plain = _same(builder, order, bh)
    pool = order.opportunity.hops[0].pool
    module, state, aux = pools[pool]
    pools[pool] = (_forked(module, Pubkey.new_unique()), state, aux)
    forked = _same(builder, order, bh)
    assert forked != plain and builder.templates.misses == 2


def test_every_hop_field_change_builds_the_reference_from_seen_hops() -> None:
    """Each pool field of a 3-hop route's hop changed in turn while the other hops stay seen
    (and their templates cleared): bytes equal the reference, or both fail alike."""
    w = Workload(30, 7, 4, 0)
    pools = _pools(w)
    base = dict(pools)
    builder = _builder(pools)
    order = _first(w, pools, lambda r: len(r) == 3)
    for position in range(3):
        pool = order.opportunity.hops[position].pool
        module, state, aux = base[pool]
        for f in dataclasses.fields(state):
            value = getattr(state, f.name)
            if isinstance(value, Pubkey):
                changed: Any = Pubkey.new_unique()
            elif isinstance(value, bool):
                changed = not value
            elif isinstance(value, int):
                changed = value + 1
            else:
                continue
            pools[pool] = (module, dataclasses.replace(state, **{f.name: changed}), aux)
            builder.templates.clear()
            assert _outcome(builder.build, order) == _outcome(builder.build_reference, order), (
                state.dex, f.name)
            pools[pool] = base[pool]


def test_a_seen_hop_whose_data_size_changes_builds_the_orders_own() -> None:
    """An adapter breaking the key contract (data length varying with the amount): the stored
    hop's template does not fit, the build falls back to the order's own instructions."""
    w = Workload(30, 7, 4, 0)
    pools = _pools(w)
    order = _first(w, pools, lambda r: len(r) == 2)
    pool = order.opportunity.hops[0].pool
    module, state, aux = pools[pool]

    def swap_data(st: Any, amount_in: int, min_out: int, a_to_b: bool) -> bytes:
        data: bytes = module.swap_data(st, amount_in, min_out, a_to_b)
        return data + b"\x00" * (amount_in % 2)

    def swap_instruction(st: Any, user: Pubkey, amount_in: int, min_out: int, a_to_b: bool,
                         **kw: Any) -> Instruction:
        ix = module.swap_instruction(st, user, amount_in, min_out, a_to_b, **kw)
        return Instruction(ix.program_id, swap_data(st, amount_in, min_out, a_to_b), ix.accounts)

    pools[pool] = (Adapter(module, swap_data=swap_data, swap_instruction=swap_instruction), state,
                   aux)  # fmt: skip
    builder = _builder(pools)
    bh = Hash(bytes([3]) * 32)
    _same(builder, order, bh)  # even amount: the hop stored with the short data
    builder.templates.clear()
    longer = _order(pools, [(pool, order.opportunity.hops[0].a_to_b),
                            (order.opportunity.hops[1].pool, order.opportunity.hops[1].a_to_b)],
                    10**8 + 1, "odd")  # fmt: skip
    assert longer is not None
    _same(builder, longer, bh)


def test_a_new_payer_drops_every_hop() -> None:
    _, builder, order = _setup(3)
    bh = Hash(bytes([4]) * 32)
    first = _same(builder, order, bh)
    other = Keypair.from_seed(bytes([43]) * 32)
    builder.payer, builder.payer_pubkey = other, other.pubkey()
    second = bytes(builder.build(order, bh))
    assert bytes(PAYER.pubkey()) not in second and bytes(other.pubkey()) in second
    assert second == bytes(builder.build_reference(order, bh)) and second != first


def test_a_deferred_template_cuts_on_its_first_fill() -> None:
    _, builder, order = _setup(3)
    message = to_bytes_versioned(builder.build_reference(order, Hash(bytes([2]) * 32)).message)
    eager, deferred = Template(message, 3), Template.deferred(message, 3)
    datas = [bytes([i]) * size for i, size in enumerate(eager.sizes)]
    assert deferred.fill(bytes(32), datas) == eager.fill(bytes(32), datas) != message
    assert deferred.segments == eager.segments
    with pytest.raises(ValueError):
        Template.deferred(message[:-1], 3).fill(bytes(32), datas)
    with pytest.raises(ValueError):
        Template.deferred(message, 9).fill(bytes(32), datas)
