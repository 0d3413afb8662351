"""A constant-product DEX adapter for tests: a legitimate double at the DEX seam.

It satisfies :class:`solarb.dex.base.DexAdapter` with its own fake program id and a small,
explicit account layout, so market/strategy tests do not depend on a real DEX module:

- pool account (168 bytes): ``b"CPPOOL01"`` + mint_a + mint_b + vault_a + vault_b + config
- config account (24 bytes): ``b"CPCONFIG"`` + fee_num u64 + fee_den u64 (shareable by pools)
- vaults: real 165-byte SPL token accounts; reserves are their ``amount``.

Quote: ``fee = ceil(amount_in * fee_num / fee_den)``, ``net = amount_in - fee``,
``out = reserve_out * net // (reserve_in + net)``
(all integers), the usual constant-product rule with the fee taken from the input.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from solarb.dex.base import DecodeError, InsufficientLiquidity, MissingAccount, Quote, QuoteError
from solarb.dex.spl_token import TOKEN_PROGRAM_ID, encode_token_account, token_account_amount
from solarb.events import AccountUpdate


def key(name: str) -> Pubkey:
    """A deterministic test pubkey derived from ``name``."""
    return Pubkey(hashlib.sha256(name.encode()).digest())


NAME = "cp_test"
PROGRAM_ID = key("cp-test-program")

POOL_DISC = b"CPPOOL01"
CONFIG_DISC = b"CPCONFIG"
_POOL = struct.Struct("<8s32s32s32s32s32s")
_CONFIG = struct.Struct("<8sQQ")


@dataclass(slots=True, frozen=True)
class CpPool:
    """Decoded test pool (satisfies :class:`solarb.dex.base.PoolState`)."""

    address: Pubkey
    mint_a: Pubkey
    mint_b: Pubkey
    vault_a: Pubkey
    vault_b: Pubkey
    config: Pubkey
    dex: str = NAME
    token_program_a: Pubkey = TOKEN_PROGRAM_ID
    token_program_b: Pubkey = TOKEN_PROGRAM_ID


def encode_pool(
    mint_a: Pubkey, mint_b: Pubkey, vault_a: Pubkey, vault_b: Pubkey, config: Pubkey
) -> bytes:
    """Pool account bytes."""
    keys = (mint_a, mint_b, vault_a, vault_b, config)
    return _POOL.pack(POOL_DISC, *(bytes(k) for k in keys))


def encode_config(fee_num: int, fee_den: int) -> bytes:
    """Config account bytes (fee = fee_num / fee_den of the input)."""
    return _CONFIG.pack(CONFIG_DISC, fee_num, fee_den)


def decode_pool(address: Pubkey, data: bytes) -> CpPool:
    """Decode a pool account; :class:`DecodeError` on wrong size or discriminator."""
    if len(data) != _POOL.size:
        raise DecodeError(f"cp pool {address}: {len(data)} bytes, expected {_POOL.size}")
    disc, a, b, va, vb, cfg = _POOL.unpack(data)
    if disc != POOL_DISC:
        raise DecodeError(f"cp pool {address}: bad discriminator {disc.hex()}")
    return CpPool(
        address=address,
        mint_a=Pubkey(a),
        mint_b=Pubkey(b),
        vault_a=Pubkey(va),
        vault_b=Pubkey(vb),
        config=Pubkey(cfg),
    )


def aux_accounts(state: CpPool) -> list[Pubkey]:
    """Config, then both vaults."""
    return [state.config, state.vault_a, state.vault_b]


def _fee(aux: Mapping[Pubkey, bytes], state: CpPool) -> tuple[int, int]:
    raw = aux.get(state.config)
    if raw is None:
        raise MissingAccount(f"config {state.config} not loaded")
    if len(raw) != _CONFIG.size or raw[:8] != CONFIG_DISC:
        raise QuoteError(f"config {state.config} is not a cp config")
    _, num, den = _CONFIG.unpack(raw)
    return num, den


def _reserves(state: CpPool, aux: Mapping[Pubkey, bytes], a_to_b: bool) -> tuple[int, int]:
    raw_a = aux.get(state.vault_a)
    raw_b = aux.get(state.vault_b)
    if raw_a is None or raw_b is None:
        raise MissingAccount(f"vaults of {state.address} not loaded")
    try:
        ra, rb = token_account_amount(raw_a), token_account_amount(raw_b)
    except DecodeError as exc:
        raise QuoteError(f"vault of {state.address}: {exc}") from exc
    return (ra, rb) if a_to_b else (rb, ra)


def quote(state: CpPool, aux: Mapping[Pubkey, bytes], amount_in: int, a_to_b: bool) -> Quote:
    """Exact constant-product output; :class:`QuoteError` for amount 0 or an empty pool."""
    if amount_in <= 0:
        raise QuoteError("amount_in must be positive")
    num, den = _fee(aux, state)
    r_in, r_out = _reserves(state, aux, a_to_b)
    fee = (amount_in * num + den - 1) // den
    net = amount_in - fee
    if r_in == 0 or r_out == 0:
        raise InsufficientLiquidity(f"pool {state.address} is empty")
    out = r_out * net // (r_in + net)
    if out >= r_out:
        raise InsufficientLiquidity(f"pool {state.address} cannot pay {out}")
    return Quote(amount_in=amount_in, amount_out=out, fee=fee)


def spot_rate(state: CpPool, aux: Mapping[Pubkey, bytes], a_to_b: bool) -> float:
    """Marginal output per input at zero size, fee included (ranking only)."""
    num, den = _fee(aux, state)
    r_in, r_out = _reserves(state, aux, a_to_b)
    if r_in == 0:
        return 0.0
    return (r_out / r_in) * (1.0 - num / den)


def swap_instruction(
    state: CpPool,
    user: Pubkey,
    amount_in: int,
    min_out: int,
    a_to_b: bool,
    *,
    aux: Mapping[Pubkey, bytes] | None = None,
) -> Instruction:
    """A swap instruction in this fake program's made-up format."""
    data = struct.pack("<BQQB", 1, amount_in, min_out, 1 if a_to_b else 0)
    metas = [
        AccountMeta(state.address, is_signer=False, is_writable=True),
        AccountMeta(state.vault_a, is_signer=False, is_writable=True),
        AccountMeta(state.vault_b, is_signer=False, is_writable=True),
        AccountMeta(user, is_signer=True, is_writable=True),
    ]
    return Instruction(PROGRAM_ID, data, metas)


ERRORS: dict[int, str] = {}


# -- builders for tests -------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class CpSpec:
    """Addresses of one test pool; ``updates`` builds the account updates that load it."""

    pool: Pubkey
    mint_a: Pubkey
    mint_b: Pubkey
    vault_a: Pubkey
    vault_b: Pubkey
    config: Pubkey

    def pool_update(self, slot: int = 1, data: bytes | None = None) -> AccountUpdate:
        """The pool account at ``slot`` (custom ``data`` to send bad bytes)."""
        raw = data if data is not None else encode_pool(
            self.mint_a, self.mint_b, self.vault_a, self.vault_b, self.config
        )
        return AccountUpdate(self.pool, slot, raw, PROGRAM_ID, 1_000_000)

    def vault_update(self, side_a: bool, amount: int, slot: int = 1) -> AccountUpdate:
        """One vault holding ``amount`` at ``slot``."""
        vault, mint = (self.vault_a, self.mint_a) if side_a else (self.vault_b, self.mint_b)
        data = encode_token_account(mint, self.pool, amount)
        return AccountUpdate(vault, slot, data, TOKEN_PROGRAM_ID, 2_039_280)

    def config_update(self, fee_num: int, fee_den: int, slot: int = 1) -> AccountUpdate:
        """The config account at ``slot``."""
        data = encode_config(fee_num, fee_den)
        return AccountUpdate(self.config, slot, data, PROGRAM_ID, 1_000_000)

    def updates(
        self, reserve_a: int, reserve_b: int, *, fee: tuple[int, int] = (25, 10_000), slot: int = 1
    ) -> list[AccountUpdate]:
        """Pool, config and both vaults."""
        return [
            self.pool_update(slot),
            self.config_update(*fee, slot=slot),
            self.vault_update(True, reserve_a, slot),
            self.vault_update(False, reserve_b, slot),
        ]


def spec(name: str, mint_a: Pubkey, mint_b: Pubkey, *, config: Pubkey | None = None) -> CpSpec:
    """Addresses for a pool called ``name`` (config defaults to a per-pool one)."""
    return CpSpec(
        pool=key(f"{name}/pool"),
        mint_a=mint_a,
        mint_b=mint_b,
        vault_a=key(f"{name}/vault_a"),
        vault_b=key(f"{name}/vault_b"),
        config=config if config is not None else key(f"{name}/config"),
    )


def load(
    market: MarketStateLike,
    pool: CpSpec,
    reserve_a: int,
    reserve_b: int,
    *,
    fee: tuple[int, int] = (25, 10_000),
    slot: int = 1,
) -> None:
    """Register ``pool`` in ``market`` and apply its config and vaults at ``slot``."""
    updates = pool.updates(reserve_a, reserve_b, fee=fee, slot=slot)
    market.add_pool(updates[0])
    for update in updates[1:]:
        market.apply(update)


class MarketStateLike(Protocol):
    """The two MarketState methods :func:`load` uses."""

    def add_pool(self, update: AccountUpdate) -> object: ...
    def apply(self, update: AccountUpdate) -> tuple[Pubkey, ...]: ...
