"""Turn an approved :class:`Order` into a signed v0 transaction.

Instruction order: SetComputeUnitLimit, SetComputeUnitPrice, one CreateIdempotent for every
associated token account of the route not yet known to exist, then the swaps in route order.

Amounts: hop 0 spends ``opportunity.amount_in``; hop ``i`` spends hop ``i-1``'s quoted
``amount_out``. An intermediate hop's ``min_out`` is its quoted output less ``slippage_bps``
(floor); the final hop's ``min_out`` is ``order.min_out``, which must be at least
``amount_in + min_profit`` (the profit guard): a trade that would lose cannot land.

A hop's ``arrays`` (its quote's tick/bin array accounts, see :attr:`solarb.dex.base.Quote.arrays`)
go to the adapter's ``swap_instruction(..., arrays=...)`` when the hop's ``amount_in`` is the
amount spent: the instruction is then built without quoting the swap again (same bytes).

:meth:`TxBuilder.build` compiles a route shape once: later orders of the shape (same pools,
directions, arrays, created accounts; the key is each adapter's ``swap_instruction_key``) reuse
the serialized message with their amounts (``swap_data``) and blockhash written in, then sign it.
A hop's swap instruction is made once too (by adapter and key): a new route made of hops seen
before compiles from their stored instructions, whose data only fix the template's spans.
:meth:`TxBuilder.build_reference` is the plain path (``MessageV0.try_compile``, solders signing)
that the tests hold it to, byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from solders.address_lookup_table_account import AddressLookupTableAccount
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import MessageV0, to_bytes_versioned
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.solders import CompileError
from solders.transaction import VersionedTransaction

from solarb.dex.base import AccountData, DexAdapter, PoolState
from solarb.dex.spl_token import (
    ASSOCIATED_TOKEN_PROGRAM_ID,
    SYSTEM_PROGRAM_ID,
    TOKEN_PROGRAM_ID,
    associated_token_address,
)
from solarb.events import Order
from solarb.execution.errors import BuildError, ProfitGuardError
from solarb.execution.signer import Signer
from solarb.execution.template import Template, TemplateCache

PoolLookup = Callable[[Pubkey], tuple[DexAdapter, PoolState, AccountData]]
"""Pool address -> (its DEX adapter module, its latest decoded state, its loaded auxiliary
accounts). The aux data lets concentrated-liquidity adapters pass the tick/bin arrays the quoted
swap touches; ``KeyError`` for an unknown pool."""

_Leg = tuple[DexAdapter, PoolState, AccountData]
_HopKey = tuple[DexAdapter, tuple[object, ...]]  # an adapter and its swap_instruction_key

_ATA_CREATE_IDEMPOTENT = bytes([1])
_TOKEN_SYNC_NATIVE = bytes([17])
_BPS = 10_000
_ONE_SIGNATURE = bytes([1])  # a transaction's signature count (compact-u16): the payer alone


def create_ata_idempotent(
    payer: Pubkey, owner: Pubkey, mint: Pubkey, token_program: Pubkey = TOKEN_PROGRAM_ID
) -> Instruction:
    """Associated Token Account ``CreateIdempotent``: a no-op when the account already exists."""
    ata = associated_token_address(owner, mint, token_program)
    return Instruction(
        ASSOCIATED_TOKEN_PROGRAM_ID,
        _ATA_CREATE_IDEMPOTENT,
        [
            AccountMeta(payer, is_signer=True, is_writable=True),
            AccountMeta(ata, is_signer=False, is_writable=True),
            AccountMeta(owner, is_signer=False, is_writable=False),
            AccountMeta(mint, is_signer=False, is_writable=False),
            AccountMeta(SYSTEM_PROGRAM_ID, is_signer=False, is_writable=False),
            AccountMeta(token_program, is_signer=False, is_writable=False),
        ],
    )


def sync_native(account: Pubkey, token_program: Pubkey = TOKEN_PROGRAM_ID) -> Instruction:
    """SPL Token ``SyncNative``: set a wSOL account's token amount from its lamports."""
    return Instruction(
        token_program, _TOKEN_SYNC_NATIVE, [AccountMeta(account, is_signer=False, is_writable=True)]
    )


@dataclass(slots=True, frozen=True)
class RouteAccount:
    """A token account the route touches: ``address`` is ``payer``'s ATA of ``mint``."""

    address: Pubkey
    mint: Pubkey
    token_program: Pubkey


class TxBuilder:
    """Builds and signs arbitrage transactions for one payer. Synchronous and I/O-free.

    ``known_atas`` are token accounts known to exist (no creation instruction is emitted for
    them); :meth:`mark_known` adds accounts after a transaction that created them confirmed.
    ``lookup_tables`` are address lookup tables the messages are compiled against (accounts found
    in them cost a 1-byte index instead of 32 bytes; they must be active on the cluster).
    ``template_capacity`` route templates and ``hop_capacity`` hop instructions are kept.
    """

    def __init__(
        self,
        payer: Keypair,
        pools: PoolLookup,
        *,
        compute_unit_limit: int,
        priority_fee_micro_lamports: int,
        known_atas: Iterable[Pubkey] = (),
        slippage_bps: int = 0,
        min_profit: int = 1,
        lookup_tables: Sequence[AddressLookupTableAccount] = (),
        template_capacity: int = 1024,
        hop_capacity: int = 8192,
    ) -> None:
        if not 0 < compute_unit_limit <= 1_400_000:
            raise ValueError("compute_unit_limit must be in 1..1_400_000")
        if priority_fee_micro_lamports < 0:
            raise ValueError("priority_fee_micro_lamports must be >= 0")
        if not 0 <= slippage_bps < _BPS:
            raise ValueError("slippage_bps must be in 0..9999")
        if min_profit < 0:
            raise ValueError("min_profit must be >= 0")
        if hop_capacity < 1:
            raise ValueError("hop_capacity must be >= 1")
        self.payer = payer
        self.payer_pubkey = payer.pubkey()
        self.compute_unit_limit = compute_unit_limit
        self.priority_fee_micro_lamports = priority_fee_micro_lamports
        self.slippage_bps = slippage_bps
        self.min_profit = min_profit
        self.known_atas: set[Pubkey] = set(known_atas)
        self.lookup_tables = list(lookup_tables)
        self._pools = pools
        self._ata_cache: dict[tuple[Pubkey, Pubkey], Pubkey] = {}
        self._create_cache: dict[Pubkey, Instruction] = {}  # payer ATA -> its CreateIdempotent
        # The two compute-budget instructions never change for a builder: make them once.
        self._budget = [
            set_compute_unit_limit(compute_unit_limit),
            set_compute_unit_price(priority_fee_micro_lamports),
        ]
        self.templates = TemplateCache(template_capacity)
        # each swap hop's instruction by (adapter, swap_instruction_key): a new route made of
        # seen hops is compiled from these without building its instructions
        self.hop_capacity = hop_capacity
        self._hops: dict[_HopKey, Instruction] = {}
        self._reset()

    def warm_atas(self, mint_programs: Iterable[tuple[Pubkey, Pubkey]]) -> list[Pubkey]:
        """Derive the payer's token account of each ``(mint, token program)`` now, at load, so
        the first order through a token does not derive it on the hot path (a PDA search: ~24
        us). Returns them, in order (each derived once: later calls read the cache)."""
        return [self._ata(mint, program) for mint, program in mint_programs]

    def mark_known(self, atas: Iterable[Pubkey]) -> None:
        """Record token accounts that now exist (created by a confirmed transaction)."""
        self.known_atas.update(atas)

    def _ata(self, mint: Pubkey, token_program: Pubkey) -> Pubkey:
        key = (mint, token_program)
        ata = self._ata_cache.get(key)
        if ata is None:
            ata = associated_token_address(self.payer_pubkey, mint, token_program)
            self._ata_cache[key] = ata
        return ata

    def _route(self, order: Order) -> list[_Leg]:
        opp = order.opportunity
        hops = opp.hops
        if not hops:
            raise BuildError(f"order {order.id}: route has no hops")
        if hops[0].mint_in != opp.start_mint or hops[-1].mint_out != opp.start_mint:
            raise BuildError(f"order {order.id}: route does not start and end at the start mint")
        route = []
        for i, hop in enumerate(hops):
            if i and hop.mint_in != hops[i - 1].mint_out:
                raise BuildError(f"order {order.id}: hop {i} input mint != hop {i - 1} output mint")
            try:
                adapter, state, aux = self._pools(hop.pool)
            except KeyError:
                raise BuildError(f"order {order.id}: pool {hop.pool} is not loaded") from None
            mint_in, mint_out = (
                (state.mint_a, state.mint_b) if hop.a_to_b else (state.mint_b, state.mint_a)
            )
            if (mint_in, mint_out) != (hop.mint_in, hop.mint_out):
                raise BuildError(f"order {order.id}: hop {i} mints do not match pool {hop.pool}")
            route.append((adapter, state, aux))
        return route

    def route_accounts(self, order: Order) -> list[RouteAccount]:
        """Every payer token account the route touches, in first-use order, without repeats."""
        out: dict[Pubkey, RouteAccount] = {}
        for _adapter, state, _aux in self._route(order):
            for mint, program in (
                (state.mint_a, state.token_program_a),
                (state.mint_b, state.token_program_b),
            ):
                ata = self._ata(mint, program)
                if ata not in out:
                    out[ata] = RouteAccount(ata, mint, program)
        return list(out.values())

    def _guard(self, order: Order) -> None:
        opp = order.opportunity
        if order.min_out < opp.amount_in + self.min_profit:
            raise ProfitGuardError(
                f"order {order.id}: min_out {order.min_out} < amount_in {opp.amount_in} "
                f"+ min_profit {self.min_profit}"
            )

    def instructions(self, order: Order) -> list[Instruction]:
        """The instructions of :meth:`build`, unsigned (raises :class:`BuildError`)."""
        self._guard(order)
        route = self._route(order)
        return self._instructions(order, route, self._plan(order, route)[2])

    def _instructions(
        self, order: Order, route: list[_Leg], creates: list[tuple[Pubkey, Pubkey, Pubkey]]
    ) -> list[Instruction]:
        opp = order.opportunity
        ixs = self._creates(creates)
        amount_in = opp.amount_in
        for i, hop in enumerate(opp.hops):
            ixs.append(self._swap_ix(order, route, i, amount_in))
            amount_in = hop.amount_out
        return ixs

    def _creates(self, creates: list[tuple[Pubkey, Pubkey, Pubkey]]) -> list[Instruction]:
        """The compute-budget instructions, then the ATA creates of ``creates``."""
        payer = self.payer_pubkey
        ixs = list(self._budget)
        cache = self._create_cache
        for ata, mint, program in creates:
            create = cache.get(ata)
            if create is None:
                create = cache[ata] = create_ata_idempotent(payer, payer, mint, program)
            ixs.append(create)
        return ixs

    def _swap_ix(self, order: Order, route: list[_Leg], i: int, amount_in: int) -> Instruction:
        """Hop ``i``'s swap instruction, spending ``amount_in`` (hop ``i - 1``'s quoted output)."""
        adapter, state, aux = route[i]
        hop = order.opportunity.hops[i]
        if i == len(route) - 1:
            min_out = order.min_out
        else:
            min_out = hop.amount_out * (_BPS - self.slippage_bps) // _BPS
        if hop.arrays and hop.amount_in == amount_in:  # the quote's accounts: no re-quote
            return adapter.swap_instruction(  # type: ignore[call-arg,no-any-return]
                state, self.payer_pubkey, amount_in, min_out, hop.a_to_b, aux=aux,
                arrays=hop.arrays,
            )
        return adapter.swap_instruction(
            state, self.payer_pubkey, amount_in, min_out, hop.a_to_b, aux=aux
        )

    def _plan(
        self, order: Order, route: list[_Leg]
    ) -> tuple[tuple[object, ...] | None, list[bytes], list[tuple[Pubkey, Pubkey, Pubkey]]]:
        """``(template key, swap datas, creates)`` of ``order``. ``creates``: ``(ata, mint,
        program)`` of each route token account not known to exist, in first-use order (the
        transaction's ATA creates). The key holds every input of the message but the amounts and
        the blockhash: the created accounts' mints and programs, then per hop its adapter and its
        ``swap_instruction_key`` (the accounts and the data's layout), flat, last; the compute
        budget, payer and lookup tables are the builder's and checked apart. It is ``None``
        (datas incomplete) when a hop's adapter cannot key its instruction (accounts chosen by a
        quote of this amount)."""
        opp = order.opportunity
        known, atas = self.known_atas, self._ata_cache
        creates: list[tuple[Pubkey, Pubkey, Pubkey]] = []
        created: list[Pubkey] = []  # mint, program of each create
        seen: set[Pubkey] = set()
        parts: list[object] = []
        datas: list[bytes] = []
        keyable = True
        amount_in = opp.amount_in
        last = len(route) - 1
        keep = _BPS - self.slippage_bps
        for i, ((adapter, state, aux), hop) in enumerate(zip(route, opp.hops, strict=True)):
            for mint, program in (
                (state.mint_a, state.token_program_a),
                (state.mint_b, state.token_program_b),
            ):
                ata = atas.get((mint, program))
                if ata is None:
                    ata = self._ata(mint, program)
                if ata not in known and ata not in seen:
                    seen.add(ata)
                    creates.append((ata, mint, program))
                    created += (mint, program)
            if keyable:
                arrays = hop.arrays if hop.amount_in == amount_in else ()
                key = adapter.swap_instruction_key(state, hop.a_to_b, aux, arrays)
                if key is None:
                    keyable = False
                else:
                    parts += (adapter, key)
                    min_out = order.min_out if i == last else hop.amount_out * keep // _BPS
                    datas.append(adapter.swap_data(state, amount_in, min_out, hop.a_to_b))
            amount_in = hop.amount_out
        if not keyable:
            return None, datas, creates
        return (len(creates), *created, *parts), datas, creates

    def _compile(
        self,
        order: Order,
        instructions: list[Instruction],
        blockhash: Hash,
        tables: Sequence[AddressLookupTableAccount] | None = None,
    ) -> MessageV0:
        """``instructions`` compiled against ``tables`` (default: :meth:`_route_tables`)."""
        if tables is None:
            tables = self._route_tables(instructions)
        try:
            return MessageV0.try_compile(self.payer_pubkey, instructions, tables, blockhash)
        except CompileError as e:  # e.g. more than 256 accounts
            raise BuildError(f"order {order.id}: message does not compile ({e})") from e

    def _route_tables(self, instructions: list[Instruction]) -> Sequence[AddressLookupTableAccount]:
        """The lookup tables ``instructions`` can use, in the builder's order: each account's
        first table. ``try_compile`` takes an account from the first table that holds it and
        leaves out a table it takes nothing from, so the message is the one compiled against
        every table; ``try_compile`` scans each table it is given (at 10,000 pools, 290 tables:
        ~300 us a message against all of them)."""
        tables = self._tables
        if len(tables) < 2:
            return tables
        first_table = self._first_table
        used = {first_table.get(meta.pubkey) for ix in instructions for meta in ix.accounts}
        used.discard(None)
        return [tables[i] for i in sorted(used)]  # type: ignore[type-var]

    def build_reference(self, order: Order, blockhash: Hash) -> VersionedTransaction:
        """:meth:`build` without templates: the instructions compiled by ``MessageV0.try_compile``
        against every lookup table and signed (the definition :meth:`build`'s bytes are tested
        against)."""
        message = self._compile(order, self.instructions(order), blockhash, self.lookup_tables)
        # sign_message + populate is ~2x faster than the VersionedTransaction(message, signers)
        # constructor and yields the identical transaction.
        signature = self.payer.sign_message(to_bytes_versioned(message))
        return VersionedTransaction.populate(message, [signature])

    def build(self, order: Order, blockhash: Hash) -> VersionedTransaction:
        """:meth:`build_raw`'s transaction, parsed (for callers that read its fields)."""
        return VersionedTransaction.from_bytes(self.build_raw(order, blockhash))

    def build_raw(self, order: Order, blockhash: Hash) -> bytes:
        """The serialized v0 transaction for ``order`` signed by the payer, valid while
        ``blockhash`` is: the bytes to simulate, send and journal (:func:`raw_signature` reads
        its signature). No parse and no second serialization on the way to the wire.

        Byte-identical to :meth:`build_reference` (errors alike). A route shape seen before
        (same created accounts and hops, same payer and lookup tables) reuses its compiled
        message: only the swaps' data and the blockhash are written in
        (:class:`~solarb.execution.template.Template`). A new shape is compiled from each hop's
        stored swap instruction (made when the hop's key was first seen, ``hop_capacity`` kept,
        oldest dropped first); when every hop is new, that message is the order's own and its
        template is cut only if the shape comes back. Signing goes through libsodium
        (:class:`~solarb.execution.signer.Signer`, the same signature bytes).

        Raises :class:`BuildError` (:class:`ProfitGuardError` for an unsafe ``min_out``).
        """
        self._guard(order)
        route = self._route(order)
        if (self.payer is not self._signer.keypair or self.payer_pubkey is not self._payer_pubkey
                or tuple(self.lookup_tables) != self._tables):  # fmt: skip
            self._reset()  # payer or lookup tables changed: every template is stale
        key, datas, creates = self._plan(order, route)
        if key is not None:
            template = self.templates.get(key)
            if template is None:  # a new route: compiled from its hops' stored instructions
                swaps, made = self._swaps(order, route, key)
                ixs = self._creates(creates)
                ixs += swaps
                message = to_bytes_versioned(self._compile(order, ixs, blockhash))
                if made == len(swaps):
                    # every swap was just made for this order: the message is the order's own
                    # (the reference's bytes); it is cut if the shape comes back
                    self.templates.put(key, Template.deferred(message, len(swaps)))
                    return self._signed(message)
                template = Template(message, len(swaps))
                self.templates.put(key, template)
            message = template.fill(bytes(blockhash), datas)
            if message is not None:
                return self._signed(message)
        # not keyable, or a stored data's size differs: this order's own instructions
        compiled = self._compile(order, self._instructions(order, route, creates), blockhash)
        message = to_bytes_versioned(compiled)
        if key is not None:
            self.templates.put(key, Template(message, len(route)))
        return self._signed(message)

    def _swaps(
        self, order: Order, route: list[_Leg], key: tuple[object, ...]
    ) -> tuple[list[Instruction], int]:
        """Each hop's stored swap instruction, by its adapter and ``swap_instruction_key`` (the
        template ``key`` ends with them, two per hop): made the first time they are seen, for
        that order's amounts (the oldest dropped beyond :attr:`hop_capacity`). Also how many were
        made now (for ``order``'s amounts)."""
        stored = self._hops
        base = len(key) - 2 * len(route)
        swaps = []
        made = 0
        for i in range(len(route)):
            at = base + 2 * i
            hop_key: _HopKey = (key[at], key[at + 1])  # type: ignore[assignment]
            ix = stored.get(hop_key)
            if ix is None:
                hops = order.opportunity.hops
                amount_in = hops[i - 1].amount_out if i else order.opportunity.amount_in
                ix = stored[hop_key] = self._swap_ix(order, route, i, amount_in)
                made += 1
                if len(stored) > self.hop_capacity:
                    del stored[next(iter(stored))]
            swaps.append(ix)
        return swaps, made

    def _reset(self) -> None:
        self.templates.clear()
        self._hops.clear()
        self._ata_cache.clear()  # the payer's token accounts (the payer may have changed)
        self._create_cache.clear()
        self._signer = Signer(self.payer)
        self._payer_pubkey = self.payer_pubkey
        self._tables = tuple(self.lookup_tables)
        # each tabled account -> the index of the first table that holds it (_route_tables)
        self._first_table: dict[Pubkey, int] = {}
        if len(self._tables) > 1:
            for i, table in enumerate(self._tables):
                for address in table.addresses:
                    self._first_table.setdefault(address, i)

    def _signed(self, message: bytes) -> bytes:
        """The serialized transaction of ``message`` signed by the payer (libsodium, the solders
        signature's bytes): the signature count, the signature, the message."""
        return _ONE_SIGNATURE + self._signer.signed(message)


def raw_signature(raw: bytes) -> Signature:
    """The payer's signature of a transaction serialized by :meth:`TxBuilder.build_raw` (one
    signer: the count byte, then the 64 signature bytes)."""
    return Signature.from_bytes(raw[1:65])
