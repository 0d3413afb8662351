"""MarketState: what a new pool image re-does (aux index, graph, token-program lookup), the
freshness slot, and what removing a pool prunes (cp test adapter, wrapped to count calls)."""

from __future__ import annotations

from solders.pubkey import Pubkey

from solarb.dex.base import CLOCK_SYSVAR
from solarb.dex.spl_token import TOKEN_PROGRAM_ID
from solarb.events import AccountUpdate
from solarb.market import MarketState
from solarb.market.graph import TokenGraph
from tests.support import cp_adapter as cp

SOL, USDC, BONK = cp.key("mint/SOL"), cp.key("mint/USDC"), cp.key("mint/BONK")
POOL_LEN = cp._POOL.size


class _Adapter:
    """The cp adapter, counting calls; a pool image may carry trailing bytes the state ignores
    (a new image with the same accounts and mints), and ``extra`` aux accounts may be listed."""

    def __init__(self, extra: tuple[Pubkey, ...] = ()) -> None:
        self.extra = extra
        self.decodes = 0
        self.aux_calls = 0
        self.lookups: list[str] = []

    def __getattr__(self, name: str) -> object:
        self.lookups.append(name)
        return getattr(cp, name)

    def decode_pool(self, address: Pubkey, data: bytes) -> cp.CpPool:
        self.decodes += 1
        return cp.decode_pool(address, data[:POOL_LEN])

    def aux_accounts(self, state: cp.CpPool) -> list[Pubkey]:
        self.aux_calls += 1
        return [*cp.aux_accounts(state), *self.extra]


class _CountingGraph(TokenGraph):
    __slots__ = ("adds",)

    def __init__(self) -> None:
        super().__init__()
        self.adds = 0

    def add_pool(self, pool: Pubkey, mint_a: Pubkey, mint_b: Pubkey) -> bool:
        self.adds += 1
        return super().add_pool(pool, mint_a, mint_b)


def _market(adapter: _Adapter) -> tuple[MarketState, list[list[Pubkey]]]:
    m = MarketState({cp.PROGRAM_ID: adapter})  # type: ignore[dict-item]
    m.graph = _CountingGraph()
    fresh: list[list[Pubkey]] = []
    m.on_new_accounts = fresh.append
    return m, fresh


def _image(p: cp.CpSpec, slot: int, tag: int, **keys: Pubkey) -> AccountUpdate:
    fields = {"mint_a": p.mint_a, "mint_b": p.mint_b, "vault_a": p.vault_a,
              "vault_b": p.vault_b, "config": p.config, **keys}
    data = cp.encode_pool(**fields) + bytes([tag])
    return AccountUpdate(p.pool, slot, data, cp.PROGRAM_ID, 1)


def test_new_image_with_the_same_accounts_and_mints_keeps_the_index_and_the_graph() -> None:
    adapter = _Adapter()
    m, fresh = _market(adapter)
    p = cp.spec("p", SOL, USDC)
    cp.load(m, p, 1_000_000, 2_000_000, slot=3)
    entry = m.pool(p.pool)
    keys, version, adds, decodes = entry.aux_keys, m.version, m.graph.adds, adapter.decodes
    fresh.clear()
    assert m.apply(_image(p, 5, 1)) == (p.pool,)
    assert adapter.decodes == decodes + 1  # a new image is always decoded
    assert entry.aux_keys is keys  # same accounts: not re-indexed
    assert m.graph.adds == adds and m.version == version  # same mints: graph untouched
    assert fresh == []
    assert entry.ready and entry.pool_slot == 5 and entry.slot == 3
    assert m.quote(p.pool, 10_000, True).amount_out > 0


def test_new_image_naming_another_vault_is_re_indexed() -> None:
    adapter = _Adapter()
    m, fresh = _market(adapter)
    p = cp.spec("p", SOL, USDC)
    cp.load(m, p, 1_000_000, 2_000_000, slot=3)
    moved = cp.key("p/vault_a/2")
    fresh.clear()
    assert m.apply(_image(p, 6, 1, vault_a=moved)) == (p.pool,)
    entry = m.pool(p.pool)
    assert entry.aux_keys == (p.config, moved, p.vault_b)
    assert fresh == [[moved]]
    assert m.pools_using(p.vault_a) == () and p.vault_a not in m.watched_accounts()
    assert m.slot_of(p.vault_a) is None and p.vault_a not in entry.aux  # pruned
    assert not entry.ready
    m.apply(AccountUpdate(moved, 4, cp.encode_token_account(SOL, p.pool, 10**6),
                          TOKEN_PROGRAM_ID, 1))
    assert entry.ready and entry.slot == 3  # the min over the new accounts and the pool
    # back to the first vault: indexed again (its data must be loaded again)
    assert m.apply(_image(p, 7, 2)) == (p.pool,)
    assert entry.aux_keys == (p.config, p.vault_a, p.vault_b) and not entry.ready
    assert fresh[-1] == [p.vault_a]


def test_new_image_naming_another_mint_moves_the_graph_edges() -> None:
    adapter = _Adapter()
    m, _ = _market(adapter)
    p = cp.spec("p", SOL, USDC)
    cp.load(m, p, 1_000_000, 2_000_000)
    version, keys = m.version, m.pool(p.pool).aux_keys
    assert m.apply(_image(p, 2, 1, mint_b=BONK)) == (p.pool,)
    assert m.version == version + 1
    assert m.edges(USDC) == [] and [e.pool for e in m.edges(BONK)] == [p.pool]
    assert m.pool(p.pool).aux_keys is keys


def test_aux_account_listed_twice_is_indexed_once() -> None:
    p = cp.spec("p", SOL, USDC)
    adapter = _Adapter(extra=(p.config,))
    m, fresh = _market(adapter)
    cp.load(m, p, 1_000_000, 2_000_000, slot=2)
    entry = m.pool(p.pool)
    assert entry.aux_keys == (p.config, p.vault_a, p.vault_b) and entry.ready
    keys = entry.aux_keys
    fresh.clear()
    assert m.apply(_image(p, 3, 1)) == (p.pool,)
    assert entry.aux_keys is keys and fresh == [] and entry.ready


def test_freshness_is_the_min_slot_of_the_pool_and_its_accounts_but_the_clock() -> None:
    adapter = _Adapter(extra=(CLOCK_SYSVAR,))
    m, _ = _market(adapter)
    p = cp.spec("p", SOL, USDC)
    cp.load(m, p, 1_000_000, 2_000_000, slot=10)
    m.apply(AccountUpdate(CLOCK_SYSVAR, 4, bytes(40), cp.key("sysvar"), 1))
    entry = m.pool(p.pool)
    assert entry.ready and entry.slot == 10  # the Clock's slot does not count
    m.apply(p.vault_update(True, 5, slot=12))
    m.apply(p.config_update(30, 10_000, slot=13))
    assert entry.slot == 10  # vault_b, the pool: still at 10
    m.apply(p.vault_update(False, 7, slot=14))
    assert entry.slot == 10  # the pool account
    m.apply(_image(p, 15, 1))
    assert entry.slot == 12 and entry.pool_slot == 15


def test_optional_capabilities_are_looked_up_once_per_adapter() -> None:
    adapter = _Adapter()
    m, _ = _market(adapter)
    p = cp.spec("p", SOL, USDC)
    cp.load(m, p, 1_000_000, 2_000_000)
    for slot in range(2, 6):
        m.apply(_image(p, slot, slot))
    assert adapter.lookups.count("TOKEN_PROGRAMS_FROM_MINTS") == 1
    assert adapter.lookups.count("aux_accounts_key") == 1  # absent: aux_accounts every time


def test_removing_a_pool_another_pool_reads_keeps_its_account() -> None:
    adapter = _Adapter()
    m, _ = _market(adapter)
    p1 = cp.spec("p1", SOL, USDC)
    p2 = cp.spec("p2", SOL, BONK, config=p1.pool)  # p2 reads p1's account
    cp.load(m, p1, 1_000_000, 2_000_000, slot=3)
    m.add_pool(p2.pool_update(slot=4))
    m.apply(p2.vault_update(True, 10**6, slot=4))
    m.apply(p2.vault_update(False, 10**6, slot=4))
    entry = m.pool(p2.pool)
    assert entry.ready and entry.slot == 3
    assert m.remove_pool(p1.pool)
    assert m.slot_of(p1.pool) == 3 and p1.pool in m.watched_accounts()
    assert m.apply(p1.pool_update(slot=6)) == ()  # same bytes: only the slot advances
    assert entry.slot == 4
    assert m.remove_pool(p2.pool)
    assert m.slot_of(p1.pool) is None and m.watched_accounts() == []


def test_removing_a_clock_reader_drops_the_cached_aux_dicts() -> None:
    adapter = _Adapter(extra=(CLOCK_SYSVAR,))
    m, _ = _market(adapter)
    p1, p2 = cp.spec("p1", SOL, USDC), cp.spec("p2", SOL, BONK)
    for p in (p1, p2):
        cp.load(m, p, 1_000_000, 2_000_000)
    owner = cp.key("sysvar")
    assert set(m.apply(AccountUpdate(CLOCK_SYSVAR, 2, bytes(40), owner, 1))) == {p1.pool, p2.pool}
    assert m.apply(AccountUpdate(CLOCK_SYSVAR, 3, bytes([1]) * 40, owner, 1)) == ()
    removed = m.pool(p1.pool).aux
    assert m._clock_readers is not None
    m.remove_pool(p1.pool)
    assert m._clock_readers is None  # it held p1's aux dict until the next Clock write
    assert m.apply(AccountUpdate(CLOCK_SYSVAR, 4, bytes([2]) * 40, owner, 1)) == ()
    assert m.aux(p2.pool)[CLOCK_SYSVAR] == bytes([2]) * 40
    assert removed[CLOCK_SYSVAR] == bytes([1]) * 40


class _KeyedAdapter(_Adapter):
    """Declares ``aux_accounts_key``: the accounts ``aux_accounts`` lists (None: no key)."""

    def __init__(self) -> None:
        super().__init__()
        self.key_calls = 0
        self.keyless = False

    def aux_accounts_key(self, state: cp.CpPool) -> object:
        self.key_calls += 1
        return None if self.keyless else (state.config, state.vault_a, state.vault_b)


def test_equal_aux_accounts_key_skips_aux_accounts_and_another_key_re_indexes() -> None:
    adapter = _KeyedAdapter()
    m, fresh = _market(adapter)
    p = cp.spec("p", SOL, USDC)
    cp.load(m, p, 1_000_000, 2_000_000, slot=3)
    entry = m.pool(p.pool)
    calls, keys = adapter.aux_calls, entry.aux_keys
    assert m.apply(_image(p, 4, 1)) == (p.pool,)  # same key: aux_accounts not called
    assert adapter.aux_calls == calls and adapter.key_calls == 2
    assert entry.aux_keys is keys and entry.ready
    moved = cp.key("p/vault_b/2")
    assert m.apply(_image(p, 5, 2, vault_b=moved)) == (p.pool,)  # another key: listed again
    assert adapter.aux_calls == calls + 1
    assert entry.aux_keys == (p.config, p.vault_a, moved) and fresh[-1] == [moved]
    assert not entry.ready and m.pools_using(p.vault_b) == ()
    adapter.keyless = True  # None is no key: aux_accounts is called every time
    m.apply(_image(p, 6, 3, vault_b=moved))
    m.apply(_image(p, 7, 4, vault_b=moved))
    assert adapter.aux_calls == calls + 3



class _Unhashable(_Adapter):
    __hash__ = None  # type: ignore[assignment]


def test_adapter_need_not_be_hashable() -> None:
    """Any object with the module functions is an adapter (the stage bench wraps modules in
    SimpleNamespace): the market keys the capabilities it caches by identity, not by hash."""
    adapter = _Unhashable()
    m, _ = _market(adapter)
    p = cp.spec("p", SOL, USDC)
    cp.load(m, p, 1_000_000, 2_000_000)
    m.apply(_image(p, 2, 2))
    assert m.pool(p.pool).adapter is adapter
    assert adapter.lookups.count("TOKEN_PROGRAMS_FROM_MINTS") == 1
