"""The DEX adapter protocol shared by every DEX module, and the types it speaks.

A DEX module (``raydium_amm_v4``, ``raydium_cpmm``, ...) is itself the adapter: it exposes the
names of :class:`DexAdapter` at module level. Modules are pure: no I/O, no logging, no clock.

Errors::

    DexError (SolarbError)
     ├── DecodeError (Rejected)      account bytes are not the layout we expect
     └── QuoteError (Rejected)       the program would fail this swap
          ├── MissingAccount         an auxiliary account needed for the quote is not loaded
          └── InsufficientLiquidity  the pool cannot fill the amount
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from solders.instruction import Instruction
from solders.pubkey import Pubkey

from solarb.errors import Rejected, SolarbError
from solarb.frozen import fast_init

CLOCK_SYSVAR = Pubkey.from_string("SysvarC1ock11111111111111111111111111111111")
"""The Clock sysvar: adapters read its epoch (transfer fees) and unix time (open times, fees)."""
CLOCK_LAYOUT = struct.Struct("<QqQQq")
"""The Clock's bytes: slot, epoch start timestamp, epoch, leader schedule epoch, unix timestamp."""
MEMO_PROGRAM_ID = Pubkey.from_string("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr")
"""SPL Memo v2, which the ``swap_v2``-style instructions pass for Token-2022 transfers."""

K = TypeVar("K")
V = TypeVar("V")


class DexError(SolarbError):
    """Base of DEX adapter errors."""


class DecodeError(DexError, Rejected):
    """Bytes that do not decode as the expected account (size, discriminator, values)."""


class QuoteError(DexError, Rejected):
    """The program would reject this swap; ``code`` is the program's error code when known."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class MissingAccount(QuoteError):
    """An auxiliary account the quote needs (vault, config, tick array) is not available."""


class InsufficientLiquidity(QuoteError):
    """The pool's reserves cannot fill the requested amount."""


class PoolState(Protocol):
    """What every decoded pool exposes; each DEX's state dataclass adds its own fields."""

    @property
    def address(self) -> Pubkey: ...
    @property
    def dex(self) -> str: ...
    @property
    def mint_a(self) -> Pubkey: ...
    @property
    def mint_b(self) -> Pubkey: ...
    @property
    def vault_a(self) -> Pubkey: ...
    @property
    def vault_b(self) -> Pubkey: ...
    @property
    def token_program_a(self) -> Pubkey: ...
    @property
    def token_program_b(self) -> Pubkey: ...


@fast_init
@dataclass(slots=True, frozen=True)
class Quote:
    """Exact result of a swap of ``amount_in`` base units of the input token.

    ``amount_in`` is what leaves the user's account, ``amount_out`` what arrives in it; ``fee`` is
    the total fee charged in the input token (trade fee incl. protocol/fund/creator parts).

    ``arrays`` (concentrated-liquidity adapters that choose accounts per amount: Raydium CLMM,
    Meteora DLMM) are the tick/bin array accounts the swap instruction of exactly this amount
    passes (those the quote walked, in traversal order, plus the next one as a spare), so the
    builder need not run the quote again: hand them to ``swap_instruction(..., arrays=...)``.
    Empty for every other adapter; not part of equality.
    """

    amount_in: int
    amount_out: int
    fee: int
    arrays: tuple[Pubkey, ...] = field(default=(), compare=False)


AccountData = Mapping[Pubkey, bytes]
"""Raw data of auxiliary accounts by address (vaults, configs, tick arrays...)."""


def loaded(aux: Mapping[Pubkey, bytes], key: Pubkey, dex: str, what: str) -> bytes:
    """``aux[key]``; :class:`MissingAccount` (``"<dex>: <what> <key> not loaded"``) when absent."""
    data = aux.get(key)
    if data is None:
        raise MissingAccount(f"{dex}: {what} {key} not loaded")
    return data


ClockFields = tuple[object, int, int, int]
"""``(data, slot, epoch, unix_timestamp)``: a Clock sysvar version and the fields adapters read."""
_LAST_CLOCK: ClockFields = (object(), 0, 0, 0)  # no account data is this object


def clock_fields(data: bytes | None) -> ClockFields | None:
    """The Clock sysvar's ``(data, slot, epoch, unix_timestamp)``; None when ``data`` is None or
    shorter than :data:`CLOCK_LAYOUT`. Unpacked once per data object: the market shares one
    object per Clock version among the pools that read it."""
    global _LAST_CLOCK
    c = _LAST_CLOCK
    if data is not c[0]:
        if data is None or len(data) < CLOCK_LAYOUT.size:
            return None
        slot, _est, epoch, _lse, ts = CLOCK_LAYOUT.unpack_from(bytes(data[: CLOCK_LAYOUT.size]))
        c = _LAST_CLOCK = (data, slot, epoch, ts)
    return c


def remember(cache: dict[K, V], key: K, value: V, limit: int) -> V:
    """Store ``value`` under ``key`` in a decode cache keyed by equal bytes (cleared first when it
    holds ``limit`` entries) and return it: the miss path of ``cache.get(key)``."""
    if len(cache) >= limit:
        cache.clear()
    cache[key] = value
    return value


def plain_quoter(
    quote: Callable[[object, Mapping[Pubkey, bytes], int, bool], Quote],
    state: object,
    aux: Mapping[Pubkey, bytes],
    a_to_b: bool,
) -> Callable[[int], Quote]:
    """``x -> quote(state, aux, x, a_to_b)``: an adapter's ``quote`` bound to one pool state and
    direction (what a ``quoter`` falls back to for the amounts its fast path does not cover)."""

    def general(x: int) -> Quote:
        return quote(state, aux, x, a_to_b)

    return general


class DexAdapter(Protocol):
    """The surface every DEX module exposes at module level.

    Optional functions (looked up with ``getattr``): ``quoter(state, aux, a_to_b)`` ->
    ``amount_in -> Quote``, :meth:`quote` bound to one state for a run of amounts (see
    :func:`plain_quoter`); ``reclock(quoter, state, aux, a_to_b)`` -> a quoter or None: given
    what ``quoter`` returned for ``state`` and ``aux`` (the same dict) before writes to the Clock
    sysvar only, what ``quoter(state, aux, a_to_b)`` gives now (same results, same errors), or
    None to bind anew (the finder's kept quoters, ``strategy/bound_quoters.py``);
    ``aux_accounts_key(state)`` (docs/internals.md).
    """

    NAME: str
    PROGRAM_ID: Pubkey

    def decode_pool(self, address: Pubkey, data: bytes) -> PoolState:
        """Decode the pool account; raise :class:`DecodeError` on bytes of the wrong shape."""
        ...

    def aux_accounts(self, state: PoolState) -> list[Pubkey]:
        """Every other account a quote needs (vaults, config, ...), in a stable order."""
        ...

    def quote(self, state: PoolState, aux: AccountData, amount_in: int, a_to_b: bool) -> Quote:
        """Exact program output for ``amount_in``; raise :class:`QuoteError` where the program fails."""
        ...

    def spot_rate(self, state: PoolState, aux: AccountData, a_to_b: bool) -> float:
        """Marginal output per unit input at zero size, fees included (for ranking/filtering only).
        Must not read the Clock sysvar: the finder keeps rates across Clock writes."""
        ...

    def swap_instruction(
        self,
        state: PoolState,
        user: Pubkey,
        amount_in: int,
        min_out: int,
        a_to_b: bool,
        *,
        aux: AccountData | None = None,
    ) -> Instruction:
        """The swap instruction, byte-identical to the official SDK builder; user token accounts
        are ``user``'s associated token accounts of the two mints. ``aux`` (the pool's loaded
        auxiliary accounts) lets concentrated-liquidity adapters pass every tick/bin array the
        exact quote of ``amount_in`` may touch; constant-product adapters ignore it.

        Adapters whose quotes fill :attr:`Quote.arrays` also accept ``arrays=`` (those accounts,
        from the quote of this ``amount_in``): the same instruction without quoting again.
        Callers pass it only when non-empty."""
        ...

    def swap_data(self, state: PoolState, amount_in: int, min_out: int, a_to_b: bool) -> bytes:
        """The data of :meth:`swap_instruction` for these amounts (its length fixed by the
        instruction's key)."""
        ...

    def swap_instruction_key(
        self, state: PoolState, a_to_b: bool, aux: AccountData | None, arrays: Sequence[Pubkey]
    ) -> tuple[object, ...] | None:
        """Everything :meth:`swap_instruction` reads besides ``user`` and the amounts: for one
        user, equal keys give instructions equal but for their :meth:`swap_data`. ``None`` when
        the instruction cannot be keyed (its accounts depend on a quote of the amount)."""
        ...
