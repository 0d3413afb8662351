"""SPL Token / Token-2022 account layouts, program ids and associated-token-account derivation.

Shared by the engine and by the embedded cluster. Pure functions over bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from solders.pubkey import Pubkey

from solarb.dex.base import DecodeError, MissingAccount

TOKEN_PROGRAM_ID = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
TOKEN_2022_PROGRAM_ID = Pubkey.from_string("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb")
ASSOCIATED_TOKEN_PROGRAM_ID = Pubkey.from_string("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL")
SYSTEM_PROGRAM_ID = Pubkey.from_string("11111111111111111111111111111111")
WSOL_MINT = Pubkey.from_string("So11111111111111111111111111111111111111112")
TOKEN_PROGRAMS = (TOKEN_PROGRAM_ID, TOKEN_2022_PROGRAM_ID)

TOKEN_ACCOUNT_LEN = 165
MINT_LEN = 82

ACCOUNT_STATE_UNINITIALIZED = 0
ACCOUNT_STATE_INITIALIZED = 1
ACCOUNT_STATE_FROZEN = 2

_AMOUNT = struct.Struct("<Q")
# mint(32) owner(32) amount(u64) delegate COption<Pubkey>(4+32) state(u8) is_native COption<u64>(4+8)
# delegated_amount(u64) close_authority COption<Pubkey>(4+32)
_TOKEN_ACCOUNT = struct.Struct("<32s32sQI32sBIQQI32s")
# mint_authority COption<Pubkey>(4+32) supply(u64) decimals(u8) is_initialized(u8)
# freeze_authority COption<Pubkey>(4+32)
_MINT = struct.Struct("<I32sQBBI32s")


@dataclass(slots=True, frozen=True)
class TokenAccount:
    """Decoded base part of an SPL token account (Token-2022 extensions are ignored here)."""

    mint: Pubkey
    owner: Pubkey
    amount: int
    delegate: Pubkey | None
    state: int
    is_native: int | None
    delegated_amount: int
    close_authority: Pubkey | None


@dataclass(slots=True, frozen=True)
class Mint:
    """Decoded base part of an SPL mint."""

    mint_authority: Pubkey | None
    supply: int
    decimals: int
    is_initialized: bool
    freeze_authority: Pubkey | None


def _opt(tag: int, key: bytes) -> Pubkey | None:
    return Pubkey.from_bytes(key) if tag == 1 else None


def decode_token_account(data: bytes) -> TokenAccount:
    """Decode a token account; raise :class:`DecodeError` if it is too short or not initialized."""
    if len(data) < TOKEN_ACCOUNT_LEN:
        raise DecodeError(f"token account is {len(data)} bytes, expected >= {TOKEN_ACCOUNT_LEN}")
    (mint, owner, amount, dtag, dkey, state, ntag, native, delegated, ctag, ckey) = (
        _TOKEN_ACCOUNT.unpack_from(data, 0)
    )
    if state not in (ACCOUNT_STATE_INITIALIZED, ACCOUNT_STATE_FROZEN):
        raise DecodeError(f"token account state {state} is not initialized")
    return TokenAccount(
        mint=Pubkey.from_bytes(mint),
        owner=Pubkey.from_bytes(owner),
        amount=amount,
        delegate=_opt(dtag, dkey),
        state=state,
        is_native=native if ntag == 1 else None,
        delegated_amount=delegated,
        close_authority=_opt(ctag, ckey),
    )


def token_account_amount(data: bytes) -> int:
    """The ``amount`` field of a token account, the fast way (one unpack at offset 64)."""
    if len(data) < TOKEN_ACCOUNT_LEN:
        raise DecodeError(f"token account is {len(data)} bytes, expected >= {TOKEN_ACCOUNT_LEN}")
    return int(_AMOUNT.unpack_from(data, 64)[0])


def encode_token_account(
    mint: Pubkey,
    owner: Pubkey,
    amount: int,
    *,
    is_native: int | None = None,
    state: int = ACCOUNT_STATE_INITIALIZED,
    delegate: Pubkey | None = None,
    delegated_amount: int = 0,
    close_authority: Pubkey | None = None,
) -> bytes:
    """Serialize a 165-byte SPL token account."""
    zero = bytes(32)
    return _TOKEN_ACCOUNT.pack(
        bytes(mint),
        bytes(owner),
        amount,
        1 if delegate else 0,
        bytes(delegate) if delegate else zero,
        state,
        1 if is_native is not None else 0,
        is_native or 0,
        delegated_amount,
        1 if close_authority else 0,
        bytes(close_authority) if close_authority else zero,
    )


def decode_mint(data: bytes) -> Mint:
    """Decode a mint; raise :class:`DecodeError` if too short."""
    if len(data) < MINT_LEN:
        raise DecodeError(f"mint is {len(data)} bytes, expected >= {MINT_LEN}")
    atag, akey, supply, decimals, init, ftag, fkey = _MINT.unpack_from(data, 0)
    return Mint(_opt(atag, akey), supply, decimals, bool(init), _opt(ftag, fkey))


def encode_mint(
    decimals: int,
    supply: int = 0,
    mint_authority: Pubkey | None = None,
    freeze_authority: Pubkey | None = None,
) -> bytes:
    """Serialize an 82-byte SPL mint."""
    zero = bytes(32)
    return _MINT.pack(
        1 if mint_authority else 0,
        bytes(mint_authority) if mint_authority else zero,
        supply,
        decimals,
        1,
        1 if freeze_authority else 0,
        bytes(freeze_authority) if freeze_authority else zero,
    )


@lru_cache(maxsize=65536)
def associated_token_address(
    owner: Pubkey, mint: Pubkey, token_program: Pubkey = TOKEN_PROGRAM_ID
) -> Pubkey:
    """The associated token account of ``owner`` for ``mint`` under ``token_program``."""
    return Pubkey.find_program_address(
        [bytes(owner), bytes(token_program), bytes(mint)], ASSOCIATED_TOKEN_PROGRAM_ID
    )[0]


# --- Token-2022 TransferFeeConfig (extension type 1) -------------------------------------------

_TLV = struct.Struct("<HH")
# authorities (2 x 32), withheld u64, older {epoch u64, maximum_fee u64, basis_points u16}, newer
_TRANSFER_FEE_CONFIG = struct.Struct("<64sQQQHQQH")
_MINT_EXTENSIONS_AT = 166  # base mint padded to the account length + account-type byte


class TransferFee(NamedTuple):
    """The transfer fee in force for an epoch."""

    basis_points: int
    maximum_fee: int


def epoch_transfer_fee(mint_data: bytes | None, epoch: int | None) -> TransferFee | None:
    """The TransferFeeConfig of a Token-2022 mint in force at ``epoch``; None for a mint without
    one. ``epoch`` None is accepted only when the older and newer fees agree, else
    :class:`MissingAccount` (the Clock sysvar is needed)."""
    if mint_data is None or len(mint_data) <= _MINT_EXTENSIONS_AT:
        return None
    config = _transfer_fee_config(mint_data)
    if config is None:
        return None
    older, newer, newer_epoch = config
    if older == newer or (epoch is not None and epoch >= newer_epoch):
        return newer
    if epoch is None:
        raise MissingAccount("transfer fee changes by epoch; load the Clock sysvar")
    return older


@lru_cache(maxsize=1024)
def _transfer_fee_config(mint_data: bytes) -> tuple[TransferFee, TransferFee, int] | None:
    """``(older fee, newer fee, newer epoch)`` of a mint's TransferFeeConfig extension (None
    without one). Cached by the mint's bytes: quotes ask for it per hop and per sizing probe (the
    TLV walk costs 1.5-2.5 us, a hit ~0.3 us); a mint's bytes change rarely."""
    pos = _MINT_EXTENSIONS_AT
    while pos + 4 <= len(mint_data):
        ext_type, length = _TLV.unpack_from(mint_data, pos)
        if ext_type == 0:
            break
        if ext_type == 1 and length >= _TRANSFER_FEE_CONFIG.size:
            fields = _TRANSFER_FEE_CONFIG.unpack_from(mint_data, pos + 4)
            o_epoch, o_max, o_bps, n_epoch, n_max, n_bps = fields[2:]
            return TransferFee(o_bps, o_max), TransferFee(n_bps, n_max), n_epoch
        pos += 4 + length
    return None


def fee_on_amount(fee: TransferFee | None, amount: int) -> int:
    """Token-2022 ``calculate_fee``: ceil(amount * bps / 10,000), capped at the maximum fee."""
    if fee is None or fee.basis_points == 0 or amount == 0:
        return 0
    return min(-(-amount * fee.basis_points // 10_000), fee.maximum_fee)


def transfer_fee(mint_data: bytes | None, amount: int, epoch: int | None) -> int:
    """Token-2022 ``calculate_epoch_fee(amount)``; 0 for SPL Token mints / no fee extension."""
    return fee_on_amount(epoch_transfer_fee(mint_data, epoch), amount)
