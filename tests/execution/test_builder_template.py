"""TxBuilder's message templates: every build is byte-identical to the reference build
(``MessageV0.try_compile`` + sign), over real cycles of all five DEX kinds on the bench market
as it moves, and a template is never reused when anything but the amounts and blockhash changed."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from solders.address_lookup_table_account import AddressLookupTableAccount
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import MessageV0, to_bytes_versioned
from solders.pubkey import Pubkey

from solarb.dex import meteora_dlmm
from solarb.dex.base import DexError
from solarb.dex.spl_token import TOKEN_PROGRAM_ID, associated_token_address
from solarb.events import Hop, Order
from solarb.execution.builder import TxBuilder
from solarb.execution.errors import BuildError, ProfitGuardError
from solarb.execution.route_tables import route_addresses
from solarb.execution.template import Template, TemplateCache, message_spans
from solarb.runtime.bench_workload import _ADAPTER, Workload
from tests.support.exec_fixtures import make_order
from tests.support.workload_pools import workload_pools

PAYER = Keypair.from_seed(bytes([42]) * 32)
KINDS = {"raydium_amm_v4", "raydium_cpmm", "orca_whirlpool", "raydium_clmm", "meteora_dlmm"}
Leg = tuple[Pubkey, bool]  # pool, a_to_b


Pools = dict[Pubkey, tuple[Any, Any, dict[Pubkey, bytes]]]


def _pools(w: Workload) -> Pools:
    """Every pool of the workload's bank as the market holds it, by address."""
    return {state.address: (m, state, aux) for m, state, aux in workload_pools(w, _ADAPTER.values())}


def _routes(w: Workload) -> list[list[Leg]]:
    """2-hop cycles SOL -> T -> SOL over two pools of T, 3-hop cycles SOL -> USDC -> T -> SOL:
    every DEX kind appears in both."""
    by_token: dict[Pubkey, list[tuple[Pubkey, Pubkey, Pubkey]]] = {}
    hubs = []
    for address, _kind, a, b in w.pools:
        if {a, b} == {w.sol, w.usdc}:
            hubs.append((address, a == w.sol))
        else:
            by_token.setdefault(a, []).append((address, a, b))
    routes: list[list[Leg]] = []
    for pools in by_token.values():
        sol = [p for p, _a, b in pools if b == w.sol]
        usdc = [p for p, _a, b in pools if b == w.usdc]
        routes += [[(x, False), (y, True)] for x, y in itertools.permutations(sol, 2)]
        for (hub, sol_is_a), u, s in itertools.product(hubs, usdc, sol):
            routes.append([(hub, sol_is_a), (u, False), (s, True)])
    return routes


def _order(pools: Pools, route: list[Leg], amount: int, oid: str) -> Order | None:
    """The order over ``route`` spending ``amount``, each hop with its quote's amounts and
    arrays (None if a quote fails); min_out is the amount plus one (the builder's guard)."""
    hops = []
    for pool, a_to_b in route:
        module, state, aux = pools[pool]
        try:
            q = module.quote(state, aux, amount, a_to_b)
        except DexError:
            return None
        mi, mo = (state.mint_a, state.mint_b) if a_to_b else (state.mint_b, state.mint_a)
        hops.append(Hop(pool, state.dex, a_to_b, mi, mo, amount, q.amount_out, q.arrays))
        amount = q.amount_out
    return make_order(hops, hops[0].amount_in + 1, oid)


def _first_order(w: Workload, pools: Pools, pick: Callable[[list[Leg]], bool]) -> Order:
    """The order spending 10**8 over the first route of ``w`` that ``pick`` accepts."""
    route = next(r for r in _routes(w) if pick(r))
    order = _order(pools, route, 10**8, "a")
    assert order is not None
    return order


def _with_hop(order: Order, i: int, hop: Hop, **kw: Any) -> Order:
    """``order`` with hop ``i`` replaced (and the order's fields in ``kw``)."""
    hops = list(order.opportunity.hops)
    hops[i] = hop
    opportunity = dataclasses.replace(order.opportunity, hops=tuple(hops))
    return dataclasses.replace(order, opportunity=opportunity, **kw)


def _builder(pools: Pools, **kw: Any) -> TxBuilder:
    args: dict[str, Any] = {"compute_unit_limit": 600_000, "priority_fee_micro_lamports": 10_000}
    args.update(kw)
    return TxBuilder(PAYER, lambda p: pools[p], **args)


def _same(builder: TxBuilder, order: Order, blockhash: Hash) -> bytes:
    """Build with templates and as the reference; assert the bytes are equal; return them."""
    fast = bytes(builder.build(order, blockhash))
    assert fast == bytes(builder.build_reference(order, blockhash)), order.id
    return fast


def _blockhashes() -> Iterator[Hash]:
    for i in itertools.count(1):
        yield Hash(i.to_bytes(32, "little"))


def _lookup_table(pools: Pools) -> AddressLookupTableAccount:
    keys: list[Pubkey] = []
    for _module, state, _aux in pools.values():
        keys += [state.address, state.vault_a, state.vault_b, state.mint_a]
    return AddressLookupTableAccount(Pubkey.new_unique(), keys[:256])


def _lookup_tables(pools: Pools) -> list[AddressLookupTableAccount]:
    """The route accounts of ``pools`` in tables of 16, one more before them that repeats some
    (accounts then come from it: the first table holding them) and one holding none of them."""
    addrs = route_addresses(PAYER.pubkey(), pools.values())
    tables = [AddressLookupTableAccount(Pubkey.new_unique(), addrs[i:i + 16])
              for i in range(0, len(addrs), 16)]
    tables.insert(0, AddressLookupTableAccount(Pubkey.new_unique(), addrs[40:80:3]))
    tables.append(AddressLookupTableAccount(Pubkey.new_unique(), [Pubkey.new_unique() for _ in range(4)]))
    return tables


@pytest.mark.parametrize("variant", ["plain", "slippage_known_atas", "lookup_table", "lookup_tables"])
def test_builds_equal_the_reference_as_the_market_moves(variant: str) -> None:
    w = Workload(30, 7, 4, 0)
    routes = _routes(w)
    pools = _pools(w)
    kw: dict[str, Any] = {}
    if variant == "slippage_known_atas":  # some route accounts exist, others are created
        kw = {"slippage_bps": 37, "min_profit": 1,
              "known_atas": [associated_token_address(PAYER.pubkey(), w.usdc, TOKEN_PROGRAM_ID)]}
    elif variant == "lookup_table":
        kw = {"lookup_tables": [_lookup_table(pools)]}
    elif variant == "lookup_tables":  # many: each message compiles against its route's own
        kw = {"lookup_tables": _lookup_tables(pools)}
    builder = _builder(pools, **kw)
    hashes = _blockhashes()
    kinds: dict[int, set[str]] = {2: set(), 3: set()}
    n = 0
    for step in range(4):  # the market moves between rounds: new states, ticks, arrays
        for i, route in enumerate(routes):
            for amount in (10**7, 3 * 10**8, 2 * 10**9):
                order = _order(pools, route, amount, f"{step}-{i}-{amount}")
                if order is None:
                    continue
                _same(builder, order, next(hashes))
                kinds[len(route)] |= {pools[p][1].dex for p, _ in route}
                n += 1
        for _ in range(60):
            w._swap()
        pools.clear()
        pools.update(_pools(w))
    assert kinds[2] == KINDS and kinds[3] == KINDS
    cache = builder.templates
    assert n >= 200 and cache.hits >= n // 3 and cache.misses >= len(routes), (n, cache.hits)


def test_repeated_route_changes_only_amounts_and_blockhash() -> None:
    w = Workload(30, 7, 4, 0)
    pools = _pools(w)
    builder = _builder(pools)
    route = next(r for r in _routes(w) if len(r) == 3)
    first = _order(pools, route, 10**8, "a")
    second = _order(pools, route, 10**8 + 12_345, "b")
    assert first is not None and second is not None
    a = _same(builder, first, Hash(bytes([1]) * 32))
    hits = builder.templates.hits
    b = _same(builder, second, Hash(bytes([2]) * 32))
    assert len(a) == len(b) and a != b
    assert builder.templates.hits in (hits, hits + 1)  # arrays may differ with the amount


def _field_variants(state: Any) -> Iterator[tuple[str, Any]]:
    """Each field of ``state`` changed in turn (a new key, an int + 1 or the other bool)."""
    for f in dataclasses.fields(state):
        value = getattr(state, f.name)
        if isinstance(value, Pubkey):
            yield f.name, Pubkey.new_unique()
        elif isinstance(value, bool):
            yield f.name, not value
        elif isinstance(value, int):
            yield f.name, value + 1


def _outcome(build: Callable[[Order, Hash], Any], order: Order) -> bytes | type[BaseException]:
    """The transaction's bytes, or the type of the error the build raised."""
    try:
        return bytes(build(order, Hash(bytes([9]) * 32)))
    except Exception as e:  # noqa: BLE001 - the two paths must fail alike
        return type(e)


def test_every_state_field_change_misses_or_builds_the_same_bytes() -> None:
    """A template reused for a state whose instruction differs would give wrong bytes: each
    field of each hop's pool changed in turn, the build must still equal the reference; fields
    the instructions do not read (reserves, prices, fees) must keep hitting."""
    w = Workload(30, 7, 4, 0)
    pools = _pools(w)
    base = dict(pools)
    hits_by_kind: dict[str, int] = {}
    misses_by_kind: dict[str, int] = {}
    for route in (r for r in _routes(w) if len(r) == 2):
        order = _order(base, route, 10**8, "warm")
        if order is None:
            continue
        for pool, _a_to_b in route:
            module, state, aux = base[pool]
            builder = _builder(pools)
            pools.clear()
            pools.update(base)
            _same(builder, order, Hash(bytes(32)))  # the template of the unchanged state
            for name, value in _field_variants(state):
                pools[pool] = (module, dataclasses.replace(state, **{name: value}), aux)
                hits = builder.templates.hits
                fast = _outcome(builder.build, order)
                assert fast == _outcome(builder.build_reference, order), (state.dex, name)
                book = hits_by_kind if builder.templates.hits > hits else misses_by_kind
                book[state.dex] = book.get(state.dex, 0) + 1
                pools[pool] = base[pool]
    assert set(hits_by_kind) == KINDS and set(misses_by_kind) == KINDS


def test_array_and_ata_and_table_changes_miss() -> None:
    w = Workload(30, 7, 4, 0)
    pools = _pools(w)
    builder = _builder(pools)
    order = _first_order(
        w, pools, lambda r: len(r) == 3 and pools[r[2][0]][1].dex == "raydium_clmm")
    bh = Hash(bytes([3]) * 32)
    _same(builder, order, bh)
    _same(builder, order, bh)
    assert builder.templates.hits == 1
    # other tick arrays for the CLMM hop: a different template
    last = order.opportunity.hops[-1]
    moved = dataclasses.replace(last, arrays=(*last.arrays[:-1], Pubkey.new_unique()))
    other = _with_hop(order, -1, moved)
    misses = builder.templates.misses
    _same(builder, other, bh)
    assert builder.templates.misses == misses + 1
    # the arrays of another amount are not used (the adapter quotes): no template at all
    stale = dataclasses.replace(last, amount_in=last.amount_in + 1)
    requote = _with_hop(order, -1, stale)
    lookups = builder.templates.hits + builder.templates.misses
    _same(builder, requote, bh)
    assert builder.templates.hits + builder.templates.misses == lookups
    # the route's token accounts become known: no creates, a different template
    builder.mark_known(a.address for a in builder.route_accounts(order))
    misses = builder.templates.misses
    assert _same(builder, order, bh) != bytes(builder.build_reference(other, bh))
    assert builder.templates.misses == misses + 1
    # a lookup table added: every template is dropped
    builder.lookup_tables.append(_lookup_table(pools))
    _same(builder, order, bh)
    assert len(builder.templates) == 1 and builder.templates.misses == misses + 2


def test_other_known_accounts_and_dlmm_extension_miss() -> None:
    w = Workload(30, 7, 4, 0)
    pools = _pools(w)
    builder = _builder(pools)
    order = _first_order(
        w, pools, lambda r: len(r) == 2 and pools[r[0][0]][1].dex == "meteora_dlmm")
    bh = Hash(bytes([5]) * 32)
    sol, token = (a.address for a in builder.route_accounts(order))
    builder.known_atas = {sol}
    _same(builder, order, bh)
    builder.known_atas = {token}  # as many creates, of another account
    _same(builder, order, bh)
    assert builder.templates.misses == 2
    # the pair's bitmap extension appears in (or leaves) its aux: passed or not
    module, state, aux = pools[order.opportunity.hops[0].pool]
    ext = meteora_dlmm.bitmap_extension_address(state.address)
    pools[state.address] = (module, state, {**aux, ext: b"" if aux.get(ext) else b"\x01" * 8})
    _same(builder, order, bh)
    assert builder.templates.misses == 3


def test_bad_orders_raise_the_same_errors_with_a_warm_cache() -> None:
    w = Workload(30, 7, 4, 0)
    pools = _pools(w)
    builder = _builder(pools, min_profit=5)
    route = next(r for r in _routes(w) if len(r) == 2)
    order = _order(pools, route, 10**8, "a")
    assert order is not None
    order = dataclasses.replace(order, min_out=order.min_out + 4)
    _same(builder, order, Hash(bytes(32)))
    with pytest.raises(ProfitGuardError):
        builder.build(dataclasses.replace(order, min_out=order.min_out - 1), Hash(bytes(32)))
    missing = dict(pools)
    del missing[route[0][0]]
    with pytest.raises(BuildError, match="not loaded"):
        _builder(missing).build(order, Hash(bytes(32)))
    flipped = dataclasses.replace(order.opportunity.hops[0], a_to_b=not route[0][1])
    bad = _with_hop(order, 0, flipped)
    with pytest.raises(BuildError, match="mints do not match"):
        builder.build(bad, Hash(bytes(32)))
    huge = dataclasses.replace(order.opportunity.hops[1], amount_out=1 << 64)
    over = _with_hop(order, 1, huge, min_out=1 << 64)
    assert _outcome(builder.build, over) == _outcome(builder.build_reference, over)


# --- template internals ---


def test_message_spans_find_the_blockhash_and_every_instruction_data() -> None:
    w = Workload(30, 7, 4, 0)
    pools = _pools(w)
    builder = _builder(pools, lookup_tables=[_lookup_table(pools)])
    for route in _routes(w)[:12]:
        order = _order(pools, route, 10**8, "a")
        assert order is not None
        bh = Hash(bytes(range(32)))
        message = MessageV0.try_compile(PAYER.pubkey(), builder.instructions(order),
                                        builder.lookup_tables, bh)  # fmt: skip
        raw = to_bytes_versioned(message)
        at, spans = message_spans(raw)
        assert raw[at : at + 32] == bytes(bh)
        assert [raw[o : o + n] for o, n in spans] == [bytes(ix.data) for ix in message.instructions]
        t = Template(raw, len(route))
        assert t.fill(bytes(bh), [raw[o : o + n] for o, n in spans[-len(route) :]]) == raw
        assert t.fill(bytes(bh), [b"\x00" * 3] * len(route)) is None  # a data of another size
    with pytest.raises(ValueError):
        message_spans(raw[1:])
    with pytest.raises(ValueError):
        message_spans(raw[:-1])


def test_cache_evicts_the_least_recently_used() -> None:
    cache = TemplateCache(2)
    a, b, c = (object() for _ in range(3))
    cache.put("a", a)  # type: ignore[arg-type]
    cache.put("b", b)  # type: ignore[arg-type]
    assert cache.get("a") is a
    cache.put("c", c)  # type: ignore[arg-type]
    assert cache.get("b") is None and cache.get("a") is a and cache.get("c") is c
    assert len(cache) == 2 and (cache.hits, cache.misses) == (3, 1)
    with pytest.raises(ValueError):
        TemplateCache(0)
