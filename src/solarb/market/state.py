"""Market state: decoded pools, their auxiliary accounts, and the token graph (pure, synchronous).

Feeds hand every :class:`~solarb.events.AccountUpdate` to :meth:`MarketState.apply`, which tells
the strategy which pools changed. Updates are applied in slot order per account: an update older
than the one already stored for that account is ignored. A pool account whose bytes fail to
decode is quarantined (kept, but not ready for trading) until a later update decodes; the error
is counted, never raised out of ``apply``.

Token programs: pools whose adapter declares ``TOKEN_PROGRAMS_FROM_MINTS`` (Orca Whirlpool,
Raydium CLMM: the pool account does not record them) list both mints among their auxiliary
accounts; the market remembers every account's owner and decodes such a pool with its mints'
owners as ``token_program_a``/``token_program_b`` once they are known (re-decoding it when a mint
update shows another owner). An auxiliary account that does not exist is stored as ``b""`` (the
adapters treat it as absent/empty, as the programs do).

Storage: one record per watched account (:class:`~solarb.market.accounts.AccountRecord`: its
slot, bytes, owner, pool entry and reading pools), so an update costs one dict lookup. Each
account's data is held once, shared by every pool that reads it (``PoolEntry.aux``) and used for
the same-bytes check. Large mostly-zero auxiliary accounts owned by a DEX program
(tick and bin arrays) are kept in their compact form (:func:`~solarb.market.compact.compact`),
which compares, hashes and slices like the bytes; the layout decoders accept it.

A pool image with new bytes is always decoded; its auxiliary accounts are re-indexed only when
``aux_accounts`` lists other accounts than for the last image, and its graph edges move only when
its mints do. An adapter may define ``aux_accounts_key(state) -> Hashable`` (not None): when it
equals the key of the pool's last installed state, ``aux_accounts`` is not called (the adapter
guarantees the same list; a cheap key for an expensive list, e.g. a CL pool's current array and
bitmap). Removing a pool drops every account no remaining pool reads.

The Clock sysvar (an auxiliary account of DLMM pools: its time decays the variable fee) changes
every slot: its updates are stored and used by the next quote, but do not by themselves report
the pools as changed (re-evaluating every DLMM cycle every slot costs more than the fee drift
is worth), except for a pool that did not have it yet. Nor does it count in a pool's freshness
``slot`` (written every slot, it is never what makes a quote stale), so a Clock write only stores
the new bytes in each reading pool's ``aux`` and refreshes nothing.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import count, repeat
from operator import attrgetter, ior
from typing import cast

from solders.pubkey import Pubkey

from solarb.dex.base import CLOCK_SYSVAR, DecodeError, DexAdapter, PoolState, Quote, QuoteError
from solarb.dex.spl_token import TOKEN_PROGRAMS
from solarb.events import AccountUpdate
from solarb.market.accounts import AccountRecord, readers_of, record, record_slot
from solarb.market.compact import COMPACT_MIN_LEN, compact_update
from solarb.market.graph import Edge, TokenGraph

__all__ = ["CLOCK_SYSVAR", "MarketState", "PoolEntry", "PoolQuarantined"]

_aux_of = attrgetter("aux")  # an entry's aux dict, in C
_ready_of = attrgetter("ready")


class PoolQuarantined(QuoteError):
    """The pool's last account update did not decode; it cannot be quoted until a good one."""


@dataclass(slots=True, eq=False)
class PoolEntry:
    """One registered pool. Owned and updated by :class:`MarketState`; read it, do not write it.

    ``slot`` is the freshness of what a quote would use: the lowest slot among the pool account
    and its loaded auxiliary accounts (the Clock sysvar excepted, see the module docstring). ``ready`` is True when every auxiliary account is loaded.
    ``tradable`` is ``ready and not quarantined``.

    ``revision`` changes on every write the market makes to ``state``, ``aux`` (the Clock
    sysvar's included), ``ready`` or ``quarantined``: it is the market's write stamp at the
    entry's last such write (one increasing count per market, so a value is never given twice).
    A reader that derived something from those fields may keep it while ``revision`` is equal
    (the finder's bound quoters).
    ``rate_revision`` is the stamp of the entry's last such write other than a Clock write: what
    a DEX's ``spot_rate`` reads (which never reads the Clock), so the finder's rates follow it.
    """

    address: Pubkey
    adapter: DexAdapter = field(repr=False)
    state: PoolState
    aux_keys: tuple[Pubkey, ...]
    aux: dict[Pubkey, bytes] = field(default_factory=dict, repr=False)
    pool_slot: int = 0
    slot: int = 0
    ready: bool = False
    quarantined: bool = False
    quarantine_reason: str = ""
    decode_errors: int = 0
    # internal, kept by the market: the last ``aux_accounts`` result (``aux_keys`` is made from
    # it; an equal one leaves the index as it is) and the records of the aux accounts that count
    # in ``slot``
    aux_source: tuple[Pubkey, ...] = field(default=(), repr=False)
    slot_accounts: tuple[AccountRecord, ...] = field(default=(), repr=False)
    aux_key: object = field(default=None, repr=False)  # the adapter's aux_accounts_key, if any
    revision: int = field(default=0, repr=False)
    rate_revision: int = field(default=0, repr=False)

    @property
    def tradable(self) -> bool:
        """Loaded completely and not quarantined."""
        return self.ready and not self.quarantined


class MarketState:
    """Registry of pools, their auxiliary accounts (aux pubkey -> pools) and the token graph.

    ``adapters`` maps a DEX program id (the pool account's owner) to its adapter module.
    Counters (``decode_errors``, ``stale_updates``, ``unknown_updates``) are for metrics.
    ``version`` increases whenever the set of pools or their mint pairs changes.
    ``on_new_accounts``, when set, is called with auxiliary accounts a pool starts to need after
    it was registered (a CL pool's price moved to other tick/bin arrays): the feed must watch
    them.
    """

    def __init__(self, adapters: Mapping[Pubkey, DexAdapter]) -> None:
        self._adapters: dict[Pubkey, DexAdapter] = dict(adapters)
        self.pools: dict[Pubkey, PoolEntry] = {}
        self.graph = TokenGraph()
        self.version = 0
        self.decode_errors = 0
        self.stale_updates = 0
        self.unknown_updates = 0
        # every watched account (a pool, or read by one) -> its record: slot, bytes, owner,
        # pool entry, readers (see AccountRecord)
        self._accounts: dict[Pubkey, AccountRecord] = {}
        self._slot_obj = -1  # the last slot applied (its int object is shared, see apply)
        self._owner_ids: dict[Pubkey, Pubkey] = {}  # one Pubkey object per owner program
        # id(adapter) -> (TOKEN_PROGRAMS_FROM_MINTS, aux_accounts_key or None, the adapter: held
        # so the id stays its own); by id, as an adapter need not be hashable (any object with
        # the module functions); a getattr that misses costs ~0.8 us, so each is looked up once
        self._caps: dict[int, tuple[bool, Callable[[PoolState], object] | None, DexAdapter]] = {}
        self.on_new_accounts: Callable[[list[Pubkey]], None] | None = None
        # the Clock's readers (its record's), their aux dicts, all of them hold it?, the readers
        # as a tuple (_apply_clock)
        self._clock_readers: (
            tuple[object, tuple[dict[Pubkey, bytes], ...], bool, tuple[PoolEntry, ...]] | None
        )
        self._clock_readers = None
        # write stamps for PoolEntry.revision: next() of one count, so no value repeats
        self._stamps = count(1)

    # -- registration -------------------------------------------------------------------------

    def add_pool(self, update: AccountUpdate) -> PoolState:
        """Register (or refresh) the pool in ``update`` and index its auxiliary accounts.

        Raises :class:`DecodeError` if no adapter owns ``update.owner`` or the bytes do not decode
        (the pool is then not registered). Auxiliary data already loaded for other pools (a shared
        config, say) is reused at once.
        """
        existing = self.pools.get(update.pubkey)
        if existing is not None:
            rec = self._accounts[update.pubkey]
            if rec.slot is None or update.slot >= rec.slot:
                state = self._decode(existing.adapter, update.pubkey, update.data, existing.state)
                rec.slot = update.slot
                rec.raw = update.data
                rec.owner = self._owner(update.owner)
                self._install(existing, state, update.slot)
                for user in readers_of(rec.readers):  # pools reading it: its new slot
                    self._refresh(user)
            return existing.state
        adapter = self._adapters.get(update.owner)
        if adapter is None:
            raise DecodeError(
                f"account {update.pubkey} is owned by {update.owner}, not a known DEX"
            )
        state = self._decode(adapter, update.pubkey, update.data)
        entry = PoolEntry(address=update.pubkey, adapter=adapter, state=state, aux_keys=())
        self.pools[update.pubkey] = entry
        rec = self._accounts.get(update.pubkey)
        if rec is None:
            rec = self._accounts[update.pubkey] = record(update.pubkey)
        rec.entry = entry
        rec.slot = update.slot
        rec.raw = update.data
        rec.owner = self._owner(update.owner)
        self._install(entry, state, update.slot)
        return state

    def remove_pool(self, pool: Pubkey) -> bool:
        """Forget ``pool`` and any auxiliary account no other pool uses; True if it was known."""
        entry = self.pools.pop(pool, None)
        if entry is None:
            return False
        entry.revision = entry.rate_revision = next(self._stamps)  # holders see it changed
        for key in entry.aux_keys:
            self._unindex_aux(key, entry)
        rec = self._accounts.get(pool)
        if rec is not None:
            rec.entry = None
            if rec.readers is None:  # else another pool still reads its account
                del self._accounts[pool]
        if self.graph.remove_pool(pool):
            self.version += 1
        return True

    # -- updates ------------------------------------------------------------------------------

    def apply(self, update: AccountUpdate) -> tuple[Pubkey, ...]:
        """Apply one account update; return the pools whose quotable state changed.

        Ignored (returns ``()``): accounts not watched, updates older than the stored slot, and
        updates whose bytes equal the stored bytes (only the freshness slot advances). A pool
        update that fails to decode quarantines the pool and returns ``()``. Never raises
        :class:`DecodeError`.
        """
        key = update.pubkey
        rec = self._accounts.get(key)  # the one lookup: the rest is on the record
        if rec is None:
            self.unknown_updates += 1
            return ()
        slot = update.slot
        last = rec.slot
        if last is not None and slot < last:
            self.stale_updates += 1
            return ()
        if slot == self._slot_obj:
            slot = self._slot_obj  # one int object per slot, not one per stored account
        else:
            self._slot_obj = slot
        rec.slot = slot
        data = update.data
        owner = update.owner
        old = rec.raw
        entry = rec.entry
        if entry is None and len(data) >= COMPACT_MIN_LEN and owner in self._adapters:
            # compared and compacted in one pass; reads like the bytes (see market.compact)
            stored, same = compact_update(data, old)
            data = cast(bytes, stored)
        else:
            same = old is not None and old == data
            if same:
                data = cast(bytes, old)  # keep the one stored object (adapter caches stay hot)
        if data is not old:
            rec.raw = data
        owner_changed = rec.owner != owner
        if owner_changed:  # else the stored (shared) object is kept
            rec.owner = self._owner(owner)
        readers = rec.readers
        if entry is None:
            if readers is None:  # unreachable: a record without a pool has readers
                return ()
            if rec.clock and not owner_changed:
                return self._apply_clock(readers, data, same)
            return self._apply_aux(key, rec, readers, data, same, owner_changed, [], last)
        # freshness: the account's slot went from ``last`` (its pool_slot) up to ``slot``; a
        # non-quarantined entry's ``slot`` is exact (see _refresh), so when ``last`` was above
        # it, the minimum is elsewhere and stays (here and in _install, via _redecode)
        old = entry.pool_slot
        entry.pool_slot = slot
        changed: list[Pubkey] = []
        if not same or owner != entry.adapter.PROGRAM_ID:
            if self._redecode(entry, update, old):
                changed.append(key)
        elif entry.quarantined or old <= entry.slot:
            self._refresh(entry)
        if readers is None:
            return tuple(changed)
        return self._apply_aux(key, rec, readers, data, same, owner_changed, changed, last)

    def _apply_aux(
        self, key: Pubkey, rec: AccountRecord, readers: PoolEntry | tuple[PoolEntry, ...],
        data: bytes, same: bool, owner_changed: bool, changed: list[Pubkey], last: int | None,
    ) -> tuple[Pubkey, ...]:
        """Store a new version of aux account ``key`` (its record ``rec``, last stored at slot
        ``last``, None: never) in each reading pool (``readers``, the record's); ``changed`` plus
        the pools whose quotable state changed."""
        clock = rec.clock
        # a snapshot: re-indexing below replaces the record's readers
        for user in readers if isinstance(readers, tuple) else (readers,):
            pool = user.address
            aux = user.aux
            # a ready entry holds every aux account it reads (``_refresh``): no lookup
            first = not user.ready and key not in aux
            if first or not same:
                # the entry's own key object for a new dict key (an update brings its own copy:
                # kept, it would be a second Pubkey per account); a write keeps the held key
                aux[user.aux_keys[user.aux_keys.index(key)] if first else key] = data
                user.revision = stamp = next(self._stamps)
                if not clock:
                    user.rate_revision = stamp
                if (first or not clock) and pool not in changed:
                    changed.append(pool)
            if owner_changed:
                if self._learn_programs(user, key) and pool not in changed:
                    changed.append(pool)
            elif not first and last is not None and last > user.slot and not user.quarantined:
                # loaded before (ready and the keys unchanged) at a slot above the pool's
                # exact minimum: raising it leaves the minimum where it is
                continue
            self._refresh(user)
        return tuple(changed)

    def _apply_clock(
        self, readers: PoolEntry | tuple[PoolEntry, ...], data: bytes, same: bool
    ) -> tuple[Pubkey, ...]:
        """A Clock write: stored in each reading pool's aux; only pools that lacked it change
        (it counts in no freshness slot, so nothing is refreshed). The readers' aux dicts are
        kept in a tuple (rebuilt when the readers change), so the store runs in C, as does the
        new ``revision`` of each reader (one stamp for all: each is a value none had before).
        The store is ``aux |= {CLOCK_SYSVAR: data}`` (one dict for all), which carries the key's
        hash (a Pubkey hashes anew each time: 2/3 of a ``setitem``'s instructions); each aux
        dict keeps its own key object."""
        cache = self._clock_readers
        if cache is None or cache[0] is not readers:  # held, so the identity is never reused
            entries = readers if isinstance(readers, tuple) else (readers,)
            auxes = tuple(map(_aux_of, entries))
            # a ready entry holds every aux account it reads (see _apply_aux): no lookups
            complete = (all(map(_ready_of, entries))
                        or all(CLOCK_SYSVAR in aux for aux in auxes))
            cache = (readers, auxes, complete, entries)
            self._clock_readers = cache
        _, auxes, complete, entries = cache
        if complete:
            if not same:
                deque(map(ior, auxes, repeat({CLOCK_SYSVAR: data})), maxlen=0)
                stamp = next(self._stamps)
                deque(map(setattr, entries, repeat("revision"), repeat(stamp)), maxlen=0)
            return ()
        first: list[PoolEntry] = []
        for aux, entry in zip(auxes, entries, strict=True):
            if CLOCK_SYSVAR not in aux:
                first.append(entry)
            aux[CLOCK_SYSVAR] = data
            entry.revision = next(self._stamps)
        for entry in first:
            self._refresh(entry)
        # every reader holds the Clock now: the next write takes the path above at once
        self._clock_readers = (readers, auxes, True, entries)
        return tuple(entry.address for entry in first)

    # -- reads --------------------------------------------------------------------------------

    def pool(self, pubkey: Pubkey) -> PoolEntry:
        """The entry of a registered pool; ``KeyError`` if unknown."""
        return self.pools[pubkey]

    def aux(self, pool: Pubkey) -> Mapping[Pubkey, bytes]:
        """Loaded auxiliary account data of ``pool`` by address (missing ones are absent)."""
        return self.pools[pool].aux

    def watched_accounts(self) -> list[Pubkey]:
        """Every account the feeds must deliver: pools first, then auxiliary accounts."""
        return list(self.pools) + [k for k, rec in self._accounts.items() if rec.entry is None]

    def pools_using(self, account: Pubkey) -> tuple[Pubkey, ...]:
        """Pools whose quote reads ``account`` (as an auxiliary account)."""
        rec = self._accounts.get(account)
        return () if rec is None else tuple(e.address for e in readers_of(rec.readers))

    def owner_of(self, account: Pubkey) -> Pubkey | None:
        """The owner program of ``account`` in its last applied update (None if never seen)."""
        rec = self._accounts.get(account)
        return None if rec is None else rec.owner

    def slot_of(self, account: Pubkey) -> int | None:
        """The slot of the last applied update of ``account`` (None if never seen)."""
        rec = self._accounts.get(account)
        return None if rec is None else rec.slot

    def edges(self, mint: Pubkey) -> list[Edge]:
        """Edges ``(pool, a_to_b)`` that swap out of ``mint``."""
        return self.graph.edges(mint)

    def quarantined(self) -> list[Pubkey]:
        """Pools currently excluded from trading because their bytes did not decode."""
        return [p for p, e in self.pools.items() if e.quarantined]

    def quote(self, pool: Pubkey, amount_in: int, a_to_b: bool) -> Quote:
        """Exact quote on ``pool`` with its current state and aux data.

        Raises :class:`PoolQuarantined` for a quarantined pool, otherwise whatever
        :class:`QuoteError` the adapter raises (``MissingAccount`` while aux data is not loaded).
        """
        entry = self.pools[pool]
        if entry.quarantined:
            raise PoolQuarantined(f"pool {pool} is quarantined: {entry.quarantine_reason}")
        return entry.adapter.quote(entry.state, entry.aux, amount_in, a_to_b)

    # -- internals ----------------------------------------------------------------------------

    def _redecode(self, entry: PoolEntry, update: AccountUpdate, old_slot: int = -1) -> bool:
        """Decode a new pool image; quarantine on failure. True if the pool is usable again.
        ``old_slot``: the pool account's slot before this image (see ``_install``'s
        ``keep_slot``)."""
        if update.owner != entry.adapter.PROGRAM_ID:
            reason = f"owner is {update.owner}, expected {entry.adapter.PROGRAM_ID}"
            return self._quarantine(entry, reason)
        try:
            state = self._decode(entry.adapter, update.pubkey, update.data, entry.state)
        except DecodeError as exc:
            return self._quarantine(entry, str(exc))
        keep = not entry.quarantined and old_slot > entry.slot
        entry.quarantined = False
        entry.quarantine_reason = ""
        self._install(entry, state, update.slot, keep)
        return True

    def _decode(
        self, adapter: DexAdapter, address: Pubkey, data: bytes, known: PoolState | None = None
    ) -> PoolState:
        """``adapter.decode_pool``, with the mints' owners as token programs where the adapter
        needs them (``TOKEN_PROGRAMS_FROM_MINTS``) and they are known.

        ``known`` (the pool's current state): its mints' programs are passed on the first call,
        so a new image of a known pool is decoded once; a second decode happens only if the
        image names other mints."""
        if not (self._caps.get(id(adapter)) or self._capabilities(adapter))[0]:
            return adapter.decode_pool(address, data)
        decode: Callable[..., PoolState] = adapter.decode_pool
        if known is not None:
            accounts = self._accounts  # the inlined _mint_program (hot: every CL pool update)
            rec_a, rec_b = accounts.get(known.mint_a), accounts.get(known.mint_b)
            guess_a = None if rec_a is None else rec_a.owner
            guess_b = None if rec_b is None else rec_b.owner
            if guess_a not in TOKEN_PROGRAMS:
                guess_a = None
            if guess_b not in TOKEN_PROGRAMS:
                guess_b = None
            if guess_a is not None and guess_b is not None:  # the usual case: both known
                state = decode(address, data, token_program_a=guess_a, token_program_b=guess_b)
                # the decoders hand back the held Pubkey of an unchanged mint: identity first
                # (a Pubkey == compares the bytes even for one object)
                a, b = state.mint_a, state.mint_b
                if (a is known.mint_a or a == known.mint_a) and (
                        b is known.mint_b or b == known.mint_b):
                    return state
            elif guess_a is not None or guess_b is not None:
                kwargs: dict[str, Pubkey] = {}
                if guess_a is not None:
                    kwargs["token_program_a"] = guess_a
                if guess_b is not None:
                    kwargs["token_program_b"] = guess_b
                state = decode(address, data, **kwargs)
                if state.mint_a == known.mint_a and state.mint_b == known.mint_b:
                    return state
        state = adapter.decode_pool(address, data)
        prog_a, prog_b = self._mint_program(state.mint_a), self._mint_program(state.mint_b)
        if prog_a is None and prog_b is None:
            return state
        return decode(
            address,
            data,
            token_program_a=prog_a or state.token_program_a,
            token_program_b=prog_b or state.token_program_b,
        )

    def _capabilities(
        self, adapter: DexAdapter
    ) -> tuple[bool, Callable[[PoolState], object] | None, DexAdapter]:
        """The adapter's ``TOKEN_PROGRAMS_FROM_MINTS`` and ``aux_accounts_key`` (looked up once)."""
        caps = self._caps.get(id(adapter))
        if caps is None:
            caps = self._caps[id(adapter)] = (
                bool(getattr(adapter, "TOKEN_PROGRAMS_FROM_MINTS", False)),
                getattr(adapter, "aux_accounts_key", None),
                adapter,
            )
        return caps

    def _mint_program(self, mint: Pubkey) -> Pubkey | None:
        rec = self._accounts.get(mint)
        owner = None if rec is None else rec.owner
        return owner if owner in TOKEN_PROGRAMS else None

    def _learn_programs(self, entry: PoolEntry, key: Pubkey) -> bool:
        """Re-decode ``entry`` if ``key`` is one of its mints whose owner differs from the token
        program its state holds. True if the state changed."""
        if entry.quarantined or not self._capabilities(entry.adapter)[0]:
            return False
        state = entry.state
        program = self._mint_program(key)
        if program is None or not (
            (key == state.mint_a and program != state.token_program_a)
            or (key == state.mint_b and program != state.token_program_b)
        ):
            return False
        rec = self._accounts.get(entry.address)
        raw = None if rec is None else rec.raw
        if raw is None:
            return False
        try:
            new = self._decode(entry.adapter, entry.address, raw, state)
        except DecodeError as exc:
            return self._quarantine(entry, str(exc))
        self._install(entry, new, entry.pool_slot)
        return True

    def _quarantine(self, entry: PoolEntry, reason: str) -> bool:
        entry.quarantined = True
        entry.revision = entry.rate_revision = next(self._stamps)
        entry.quarantine_reason = reason
        entry.decode_errors += 1
        self.decode_errors += 1
        return False

    def _install(
        self, entry: PoolEntry, state: PoolState, slot: int, keep_slot: bool = False
    ) -> None:
        """Set a freshly decoded state: re-index aux accounts and graph edges if they moved.

        ``keep_slot``: the entry's freshness ``slot`` is exact and the pool account's previous
        slot was above it, so unless the aux accounts move it stays (no recomputation)."""
        old_state = entry.state
        entry.state = state
        # also covers _redecode's quarantined = False and _reindex's aux writes (made below)
        entry.revision = entry.rate_revision = next(self._stamps)
        entry.pool_slot = slot
        adapter = entry.adapter
        key_of = (self._caps.get(id(adapter)) or self._capabilities(adapter))[1]
        key = None if key_of is None else key_of(state)
        if key is None or key != entry.aux_key:  # equal keys: the same aux_accounts
            source = tuple(adapter.aux_accounts(state))
            # the same accounts as last time (the usual case; mostly the same objects):
            # aux_keys, made from an equal list, is unchanged
            if source != entry.aux_source:
                self._reindex(entry, source)
                keep_slot = False
            entry.aux_key = key
        # the graph holds the mints of the installed state (of this one, for a new entry)
        a, b = state.mint_a, state.mint_b  # identity first, as in _decode
        moved = (old_state is state or (a is not old_state.mint_a and a != old_state.mint_a)
                 or (b is not old_state.mint_b and b != old_state.mint_b))
        if moved and self.graph.add_pool(entry.address, state.mint_a, state.mint_b):
            self.version += 1
        if not keep_slot:
            self._refresh(entry)

    def _reindex(self, entry: PoolEntry, source: tuple[Pubkey, ...]) -> None:
        """Index the aux accounts of ``source`` (a new ``aux_accounts`` result) for ``entry``."""
        keys = tuple(dict.fromkeys(source))
        if keys == entry.aux_keys:
            entry.aux_source = entry.aux_keys if source == keys else source
            return
        if len(keys) == len(source):
            keys = source  # no account listed twice (the usual case): one tuple for both
        for old in entry.aux_keys:
            if old not in keys:
                self._unindex_aux(old, entry)
                entry.aux.pop(old, None)
        fresh: list[Pubkey] = []
        accounts = self._accounts
        recs: list[AccountRecord] = []
        for new in keys:
            rec = accounts.get(new)
            if rec is None:  # not watched yet
                rec = accounts[new] = record(new)
                fresh.append(new)
            readers = rec.readers
            if readers is None:
                rec.readers = entry
            elif isinstance(readers, tuple):
                if entry not in readers:  # by identity (eq=False)
                    rec.readers = (*readers, entry)
            elif readers is not entry:
                rec.readers = (readers, entry)
            raw = rec.raw
            if raw is not None:
                entry.aux[new] = raw
            if not rec.clock:
                recs.append(rec)
        entry.aux_keys, entry.aux_source = keys, source
        entry.slot_accounts = tuple(recs)
        if fresh and self.on_new_accounts is not None:
            self.on_new_accounts(fresh)

    def _owner(self, owner: Pubkey) -> Pubkey:
        """The one stored object equal to ``owner`` (every update brings its own copy)."""
        return self._owner_ids.setdefault(owner, owner)

    def _unindex_aux(self, key: Pubkey, entry: PoolEntry) -> None:
        """``entry`` no longer reads aux account ``key``; forget the account if nothing does."""
        rec = self._accounts.get(key)
        if rec is None or rec.readers is None:
            return
        if rec.clock:
            self._clock_readers = None  # it holds the readers' aux dicts
        rest = tuple(e for e in readers_of(rec.readers) if e is not entry)
        if rest:
            rec.readers = rest if len(rest) > 1 else rest[0]
        else:
            rec.readers = None
            if rec.entry is None:
                del self._accounts[key]

    def _refresh(self, entry: PoolEntry) -> None:
        """Recompute ``ready`` and the freshness ``slot`` of one pool.

        Every write that can move them ends here, except a bad image (the entry is then
        quarantined, its ``slot`` left as it was until the next refresh): so the ``slot`` of an
        entry that is not quarantined is exact, which lets apply skip this when an account
        above the minimum moves up."""
        slot = entry.pool_slot
        ready = len(entry.aux) == len(entry.aux_keys)
        if ready is not entry.ready:
            entry.ready = ready
            entry.revision = entry.rate_revision = next(self._stamps)
        recs = entry.slot_accounts
        if ready and recs:  # every aux account loaded, so each has a slot: one C-level min
            try:
                entry.slot = min(slot, min(map(record_slot, recs)))
            except TypeError:  # a slot is None (not loaded): as below
                pass
            else:
                return
        for rec in recs:
            s = rec.slot
            if s is not None and s < slot:
                slot = s
        entry.slot = slot

