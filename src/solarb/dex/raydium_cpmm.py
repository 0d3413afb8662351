"""Raydium CPMM (cp-swap, Anchor, ``CPMMoo8...``): layouts, exact quote, swap ix.

Math follows the program's ``swap_base_input`` (raydium-io/raydium-cp-swap, programs/cp-swap/src):

* reserves = vault amount - (protocol + fund + creator fees accrued for that token)
  (``InsufficientVault`` 6012 when the accruals exceed the vault);
* Token-2022 input transfer fee is taken first: ``actual_in = amount_in - transfer_fee(amount_in)``;
* creator fee on the input side: ``total = ceil(in * (trade + creator) / 1e6)``,
  ``creator = floor(total * creator / (trade + creator))``, ``trade = total - creator``;
  otherwise ``trade = ceil(in * trade_rate / 1e6)`` and after the curve
  ``creator = ceil(swapped * creator / 1e6)`` is taken from the output.
  ``creator_rate`` is 0 unless the pool's ``enable_creator_fee`` is set; the side comes from
  ``creator_fee_on`` (0 both -> input side, 1 only token_0, 2 only token_1);
* ``protocol = floor(trade * protocol_rate / 1e6)``, ``fund = floor(trade * fund_rate / 1e6)``;
* ``swapped = floor(net_in * reserve_out / (reserve_in + net_in))``;
* the output transfer fee (Token-2022) is deducted from what the user receives.

Where the SDK (@raydium-io/raydium-sdk-v2 0.2.73-alpha) differs from the program, this module follows
the program: ``CurveCalculator.swapBaseInput`` charges an input-side creator fee as two separate
ceilings (program: one ceiling on the summed rate, then a floor split), and ``computeSwapAmount``
decides the creator-fee side without the trade direction (``BothToken || OnlyTokenB``).

Errors: :class:`DecodeError` (size/discriminator/values), :class:`QuoteError` with the program's
code (NotApproved 6000, ZeroTradingTokens 6006, MathOverflow 6011, InsufficientVault 6012,
InvalidFeeModel 6013, Anchor RequireGtViolated 2505 for a zero net input or output),
:class:`MissingAccount`, :class:`InsufficientLiquidity`.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from solarb import native
from solarb.dex.base import (
    CLOCK_SYSVAR,
    DecodeError,
    DexError,
    InsufficientLiquidity,
    Quote,
    QuoteError,
    clock_fields,
    loaded,
    plain_quoter,
    remember,
)
from solarb.dex.spl_token import (
    TOKEN_2022_PROGRAM_ID,
    TOKEN_ACCOUNT_LEN,
    associated_token_address,
    token_account_amount,
    transfer_fee,
)
from solarb.native.slots import frozen_maker

__all__ = [
    "AMM_CONFIG_LEN",
    "AUTHORITY",
    "ERRORS",
    "NAME",
    "POOL_LEN",
    "PROGRAM_ID",
    "AmmConfig",
    "CpmmPool",
    "CpmmSwap",
    "aux_accounts",
    "decode_amm_config",
    "decode_pool",
    "encode_amm_config",
    "encode_pool",
    "quote",
    "quote_detail",
    "quoter",
    "spot_rate",
    "swap_base_input",
    "swap_data",
    "swap_instruction",
    "swap_instruction_key",
    "transfer_fee",
]

NAME = "raydium_cpmm"
PROGRAM_ID = Pubkey.from_string("CPMMoo8L3F4NbTegBCKVNunggL7H1ZpdTHKxQB5qKP1C")
AUTH_SEED = b"vault_and_lp_mint_auth_seed"
AUTHORITY, AUTH_BUMP = Pubkey.find_program_address([AUTH_SEED], PROGRAM_ID)
FEE_RATE_DENOMINATOR = 1_000_000
U64_MAX = 2**64 - 1


def _disc(name: str, kind: str = "account") -> bytes:
    return hashlib.sha256(f"{kind}:{name}".encode()).digest()[:8]


POOL_DISCRIMINATOR = _disc("PoolState")
AMM_CONFIG_DISCRIMINATOR = _disc("AmmConfig")
OBSERVATION_DISCRIMINATOR = _disc("ObservationState")
SWAP_BASE_INPUT_DISCRIMINATOR = _disc("swap_base_input", "global")
SWAP_BASE_OUTPUT_DISCRIMINATOR = _disc("swap_base_output", "global")

ERRORS: dict[int, str] = dict(
    enumerate(
        [
            "NotApproved", "InvalidOwner", "EmptySupply", "InvalidInput", "IncorrectLpMint",
            "ExceededSlippage", "ZeroTradingTokens", "NotSupportMint", "InvalidVault",
            "InitLpAmountTooLess", "TransferFeeCalculateNotMatch", "MathOverflow",
            "InsufficientVault", "InvalidFeeModel", "NoFeeCollect",
        ],
        start=6000,
    )
)  # fmt: skip
ERR_NOT_APPROVED = 6000
ERR_EXCEEDED_SLIPPAGE = 6005
ERR_ZERO_TRADING_TOKENS = 6006
ERR_INVALID_VAULT = 6008
ERR_MATH_OVERFLOW = 6011
ERR_INSUFFICIENT_VAULT = 6012
ERR_INVALID_FEE_MODEL = 6013
ANCHOR_REQUIRE_GT = 2505
ANCHOR_REQUIRE_GTE = 2506

POOL_LEN = 637
AMM_CONFIG_LEN = 236
OBSERVATION_LEN = 4075
SWAP_STATUS_BIT = 1 << 2

# PoolState (zero_copy, packed): disc, 10 pubkeys, auth_bump status lp/0/1 decimals, lp_supply,
# protocol_fees 0/1, fund_fees 0/1, open_time, recent_epoch, creator_fee_on, enable_creator_fee,
# padding1[6], creator_fees 0/1, padding [u64; 28].
_POOL = struct.Struct("<8s320s5B7QBB6s2Q224s")
assert _POOL.size == POOL_LEN
# Offsets of the fields a swap updates (used by the local cluster's program model).
OFF_PROTOCOL_FEES_0 = 341
OFF_FUND_FEES_0 = 357
OFF_RECENT_EPOCH = 381
OFF_CREATOR_FEES_0 = 397
_U64 = struct.Struct("<Q")
# AmmConfig: disc, bump, disable_create_pool, index u16, trade/protocol/fund rates, create_pool_fee,
# protocol_owner, fund_owner, creator_fee_rate, padding [u64; 15].
_CONFIG = struct.Struct("<8sBBH4Q32s32sQ120s")
assert _CONFIG.size == AMM_CONFIG_LEN
_RATES = struct.Struct("<8s4x3Q72xQ")  # disc, trade/protocol/fund @12, creator_fee_rate @108
_SWAP_DATA = struct.Struct("<8sQQ")


@dataclass(slots=True, frozen=True)
class CpmmPool:
    """Decoded ``PoolState``. ``mint_a``/``vault_a`` are token_0, ``_b`` token_1."""

    address: Pubkey
    dex: str
    mint_a: Pubkey
    mint_b: Pubkey
    vault_a: Pubkey
    vault_b: Pubkey
    token_program_a: Pubkey
    token_program_b: Pubkey
    amm_config: Pubkey
    pool_creator: Pubkey
    lp_mint: Pubkey
    observation_key: Pubkey
    auth_bump: int
    status: int
    lp_mint_decimals: int
    mint_0_decimals: int
    mint_1_decimals: int
    lp_supply: int
    protocol_fees_token_0: int
    protocol_fees_token_1: int
    fund_fees_token_0: int
    fund_fees_token_1: int
    open_time: int
    recent_epoch: int
    creator_fee_on: int
    enable_creator_fee: bool
    creator_fees_token_0: int
    creator_fees_token_1: int


@dataclass(slots=True, frozen=True)
class AmmConfig:
    """Decoded CPMM ``AmmConfig``; rates are parts per 1,000,000."""

    address: Pubkey
    bump: int
    disable_create_pool: bool
    index: int
    trade_fee_rate: int
    protocol_fee_rate: int
    fund_fee_rate: int
    create_pool_fee: int
    protocol_owner: Pubkey
    fund_owner: Pubkey
    creator_fee_rate: int


@dataclass(slots=True, frozen=True)
class CpmmSwap:
    """Full result of a ``swap_base_input``: what the program moves and what it accrues."""

    amount_in: int  # leaves the user (before the input transfer fee)
    amount_out: int  # leaves the output vault (before the output transfer fee)
    amount_received: int  # reaches the user
    trade_fee: int
    protocol_fee: int
    fund_fee: int
    creator_fee: int
    creator_fee_on_input: bool
    input_transfer_fee: int
    output_transfer_fee: int


# Per-update decode cost: the ten keys of a pool rarely change, so their parsed form is kept by
# the 320 key bytes (bounded; cleared when full); and the frozen dataclass is filled through its
# slot setters (its __init__ sets each of the 28 fields through object.__setattr__, ~2x slower).
_KEYS: dict[bytes, tuple[Pubkey, ...]] = {}
_MAX_CACHED_KEYS = 8192
_new_pool = frozen_maker(CpmmPool)


def decode_pool(address: Pubkey, data: bytes) -> CpmmPool:
    """Decode a 637-byte CPMM ``PoolState``; :class:`DecodeError` on size or discriminator."""
    if len(data) != POOL_LEN:
        raise DecodeError(f"raydium_cpmm pool {address}: {len(data)} bytes, expected {POOL_LEN}")
    (disc, keys, bump, status, lp_dec, dec0, dec1, lp_supply, prot0, prot1, fund0, fund1,
     open_time, recent_epoch, fee_on, enable, _p1, cre0, cre1, _pad) = _POOL.unpack(data)  # fmt: skip
    if disc != POOL_DISCRIMINATOR:
        raise DecodeError(f"raydium_cpmm pool {address}: discriminator {disc.hex()} is not PoolState")
    k = _KEYS.get(keys)
    if k is None:  # a new pool (or its keys changed): parse the ten keys once
        k = tuple(Pubkey.from_bytes(keys[i : i + 32]) for i in range(0, 320, 32))
        k = remember(_KEYS, keys, k, _MAX_CACHED_KEYS)
    # positional, in CpmmPool's field order (see _new_pool)
    return _new_pool(
        address, NAME, k[5], k[6], k[2], k[3], k[7], k[8], k[0], k[1], k[4], k[9], bump, status,
        lp_dec, dec0, dec1, lp_supply, prot0, prot1, fund0, fund1, open_time, recent_epoch,
        fee_on, bool(enable), cre0, cre1,
    )  # fmt: skip


def encode_pool(p: CpmmPool) -> bytes:
    """Serialize a ``PoolState`` (inverse of :func:`decode_pool`; padding zeroed)."""
    keys = b"".join(bytes(x) for x in (p.amm_config, p.pool_creator, p.vault_a, p.vault_b,
                                       p.lp_mint, p.mint_a, p.mint_b, p.token_program_a,
                                       p.token_program_b, p.observation_key))  # fmt: skip
    return _POOL.pack(
        POOL_DISCRIMINATOR, keys, p.auth_bump, p.status, p.lp_mint_decimals, p.mint_0_decimals,
        p.mint_1_decimals, p.lp_supply, p.protocol_fees_token_0, p.protocol_fees_token_1,
        p.fund_fees_token_0, p.fund_fees_token_1, p.open_time, p.recent_epoch, p.creator_fee_on,
        int(p.enable_creator_fee), bytes(6), p.creator_fees_token_0, p.creator_fees_token_1,
        bytes(224),
    )  # fmt: skip


def decode_amm_config(address: Pubkey, data: bytes) -> AmmConfig:
    """Decode a 236-byte CPMM ``AmmConfig``; :class:`DecodeError` on size or discriminator."""
    if len(data) != AMM_CONFIG_LEN:
        raise DecodeError(
            f"raydium_cpmm config {address}: {len(data)} bytes, expected {AMM_CONFIG_LEN}"
        )
    (disc, bump, disable, index, trade, protocol, fund, create_fee, powner, fowner, creator,
     _pad) = _CONFIG.unpack(data)  # fmt: skip
    if disc != AMM_CONFIG_DISCRIMINATOR:
        raise DecodeError(f"raydium_cpmm config {address}: discriminator {disc.hex()} is not AmmConfig")
    return AmmConfig(address, bump, bool(disable), index, trade, protocol, fund, create_fee,
                     Pubkey.from_bytes(powner), Pubkey.from_bytes(fowner), creator)  # fmt: skip


def encode_amm_config(c: AmmConfig) -> bytes:
    """Serialize an ``AmmConfig`` (inverse of :func:`decode_amm_config`)."""
    return _CONFIG.pack(AMM_CONFIG_DISCRIMINATOR, c.bump, int(c.disable_create_pool), c.index,
                        c.trade_fee_rate, c.protocol_fee_rate, c.fund_fee_rate, c.create_pool_fee,
                        bytes(c.protocol_owner), bytes(c.fund_owner), c.creator_fee_rate,
                        bytes(120))  # fmt: skip


def _rates(key: Pubkey, data: bytes) -> tuple[int, int, int, int]:
    """``(trade, protocol, fund, creator)`` fee rates of an ``AmmConfig`` without a full decode."""
    if len(data) != AMM_CONFIG_LEN:
        raise DecodeError(f"raydium_cpmm config {key}: {len(data)} bytes, expected {AMM_CONFIG_LEN}")
    disc, trade, protocol, fund, creator = _RATES.unpack_from(data, 0)
    if disc != AMM_CONFIG_DISCRIMINATOR:
        raise DecodeError(f"raydium_cpmm config {key}: discriminator {disc.hex()} is not AmmConfig")
    return trade, protocol, fund, creator


def aux_accounts(state: CpmmPool) -> list[Pubkey]:
    """``[amm_config, vault_0, vault_1]`` plus each Token-2022 mint (for its transfer fee).
    The Clock sysvar is used when present (open time, transfer-fee epoch)."""
    out = [state.amm_config, state.vault_a, state.vault_b]
    if state.token_program_a == TOKEN_2022_PROGRAM_ID:
        out.append(state.mint_a)
    if state.token_program_b == TOKEN_2022_PROGRAM_ID:
        out.append(state.mint_b)
    return out


def _ceil_div(a: int, num: int, den: int) -> int:
    return -(-a * num // den)


def swap_base_input(
    amount_in: int,
    reserve_in: int,
    reserve_out: int,
    trade_fee_rate: int,
    creator_fee_rate: int,
    protocol_fee_rate: int,
    fund_fee_rate: int,
    creator_fee_on_input: bool,
) -> tuple[int, int, int, int, int, int]:
    """The program's ``CurveCalculator::swap_base_input``: returns ``(amount_out, swapped,
    trade_fee, protocol_fee, fund_fee, creator_fee)``; raises :class:`QuoteError`
    ZeroTradingTokens (6006) where the program's checked math returns None."""
    den = FEE_RATE_DENOMINATOR
    if creator_fee_on_input:
        rate = trade_fee_rate + creator_fee_rate
        total = _ceil_div(amount_in, rate, den)
        if rate == 0:  # split_creator_fee divides by the summed rate
            raise QuoteError(
                "raydium_cpmm: zero fee rate with input-side creator fee", ERR_ZERO_TRADING_TOKENS
            )
        creator = total * creator_fee_rate // rate
        trade = total - creator
        net = amount_in - total
    else:
        trade = _ceil_div(amount_in, trade_fee_rate, den)
        net = amount_in - trade
        creator = 0
    if net < 0:
        raise QuoteError("raydium_cpmm: fee above input", ERR_ZERO_TRADING_TOKENS)
    protocol = trade * protocol_fee_rate // den
    fund = trade * fund_fee_rate // den
    swapped = net * reserve_out // (reserve_in + net)
    out = swapped
    if not creator_fee_on_input:
        creator = _ceil_div(swapped, creator_fee_rate, den)
        out = swapped - creator
        if out < 0:
            raise QuoteError("raydium_cpmm: creator fee above output", ERR_ZERO_TRADING_TOKENS)
    return out, swapped, trade, protocol, fund, creator


def _reserves(state: CpmmPool, vault_0: int, vault_1: int) -> tuple[int, int]:
    f0 = state.protocol_fees_token_0 + state.fund_fees_token_0 + state.creator_fees_token_0
    f1 = state.protocol_fees_token_1 + state.fund_fees_token_1 + state.creator_fees_token_1
    if f0 > U64_MAX or f1 > U64_MAX:
        raise QuoteError("raydium_cpmm: fee accruals overflow", ERR_MATH_OVERFLOW)
    if f0 > vault_0 or f1 > vault_1:
        raise QuoteError("raydium_cpmm: fee accruals exceed vault", ERR_INSUFFICIENT_VAULT)
    r0, r1 = vault_0 - f0, vault_1 - f1
    if r0 == 0 or r1 == 0:  # token_price_x32 divides by both reserves
        raise InsufficientLiquidity("raydium_cpmm: empty reserve (program panics)")
    return r0, r1


def _creator_fee_on_input(state: CpmmPool, a_to_b: bool) -> bool:
    on = state.creator_fee_on
    if on > 2:
        raise QuoteError(f"raydium_cpmm: creator_fee_on {on}", ERR_INVALID_FEE_MODEL)
    return on == 0 or (on == 1 and a_to_b) or (on == 2 and not a_to_b)


def quote_detail(
    state: CpmmPool, aux: Mapping[Pubkey, bytes], amount_in: int, a_to_b: bool
) -> CpmmSwap:
    """Everything ``swap_base_input`` computes, up to (not including) the slippage check."""
    return CpmmSwap(*_swap(state, aux, amount_in, a_to_b))


def _approved_epoch(state: CpmmPool, aux: Mapping[Pubkey, bytes]) -> int | None:
    """The Clock's epoch (None without a Clock); ``NotApproved`` when the pool's status or open
    time (against the Clock's unix time) refuses swaps."""
    data = aux.get(CLOCK_SYSVAR)
    clock = None if data is None else clock_fields(data)  # most pools do not read the Clock
    if state.status & SWAP_STATUS_BIT or (clock is not None and clock[3] < state.open_time):
        raise QuoteError("raydium_cpmm: swap not approved (status/open time)", ERR_NOT_APPROVED)
    return None if clock is None else clock[2]


def _vault_reserves(state: CpmmPool, aux: Mapping[Pubkey, bytes]) -> tuple[int, int]:
    """:func:`_reserves` of the loaded vaults (``MissingAccount`` when one is not loaded)."""
    return _reserves(state, token_account_amount(loaded(aux, state.vault_a, NAME, "vault")),
                     token_account_amount(loaded(aux, state.vault_b, NAME, "vault")))  # fmt: skip


def _swap(
    state: CpmmPool, aux: Mapping[Pubkey, bytes], amount_in: int, a_to_b: bool
) -> tuple[int, int, int, int, int, int, int, bool, int, int]:
    """:func:`quote_detail`'s fields as a tuple (``quote`` runs per sizing probe: no object)."""
    if not 0 < amount_in <= U64_MAX:
        raise QuoteError(f"raydium_cpmm: amount_in {amount_in} out of range", ANCHOR_REQUIRE_GT)
    epoch = _approved_epoch(state, aux)
    trade_rate, protocol_rate, fund_rate, creator_rate = _rates(
        state.amm_config, loaded(aux, state.amm_config, NAME, "amm config")
    )
    mint_in, mint_out = (state.mint_a, state.mint_b) if a_to_b else (state.mint_b, state.mint_a)
    prog_in, prog_out = (
        (state.token_program_a, state.token_program_b)
        if a_to_b
        else (state.token_program_b, state.token_program_a)
    )
    fee_in = 0
    if prog_in == TOKEN_2022_PROGRAM_ID:
        fee_in = transfer_fee(loaded(aux, mint_in, NAME, "mint"), amount_in, epoch)
    actual_in = amount_in - fee_in
    if actual_in <= 0:
        raise QuoteError("raydium_cpmm: nothing left after transfer fee", ANCHOR_REQUIRE_GT)
    r0, r1 = _vault_reserves(state, aux)
    r_in, r_out = (r0, r1) if a_to_b else (r1, r0)
    on_input = _creator_fee_on_input(state, a_to_b)
    out, _swapped, trade, protocol, fund, creator = swap_base_input(
        actual_in, r_in, r_out, trade_rate, creator_rate if state.enable_creator_fee else 0,
        protocol_rate, fund_rate, on_input,
    )  # fmt: skip
    fee_out = 0
    if prog_out == TOKEN_2022_PROGRAM_ID:
        fee_out = transfer_fee(loaded(aux, mint_out, NAME, "mint"), out, epoch)
    received = out - fee_out
    if received <= 0:
        raise QuoteError("raydium_cpmm: zero output", ANCHOR_REQUIRE_GT)
    return amount_in, out, received, trade, protocol, fund, creator, on_input, fee_in, fee_out


def quote(state: CpmmPool, aux: Mapping[Pubkey, bytes], amount_in: int, a_to_b: bool) -> Quote:
    """Exact ``swap_base_input`` for ``amount_in`` (a_to_b = token_0 -> token_1).

    ``amount_out`` is what reaches the user (after any Token-2022 output transfer fee);
    ``fee`` is the fee charged in the input token: trade fee plus the creator fee when it is
    taken on the input side (an output-side creator fee is already deducted from amount_out)."""
    _in, _out, received, trade, _p, _f, creator, on_input, _fee_in, _fee_out = _swap(
        state, aux, amount_in, a_to_b)
    return Quote(amount_in, received, trade + creator if on_input else trade)


# The C form of quoter's closure (solarb.native._constant_product); None: the Python closure.
_NATIVE = native.load("constant_product")


_LAST_PASS: tuple[object, object, object, object, tuple[int, int, int, int, int, int] | None] = (
    object(), None, None, None, None)
"""The latest :func:`_one_pass`: its state, config, vault datas and result (a spot rate per
direction and the quoters of an update read the same pass; the datas are immutable bytes, held
here, so equal identities give the same result). No state is the first item's object."""


def _one_pass(
    state: CpmmPool, aux: Mapping[Pubkey, bytes]
) -> tuple[int, int, int, int, int, int] | None:
    """``(reserve_0, reserve_1, trade, protocol, fund, creator rates)`` read in one pass from a
    loaded config and vaults of the expected sizes, the values the checked readers give; None
    where any of them would raise or look further (missing or short account, discriminator,
    reserves not positive, fee accruals above u64). The latest pass is kept: the same state and
    account data objects answer it again without reading."""
    global _LAST_PASS
    config = aux.get(state.amm_config)
    vault_0 = aux.get(state.vault_a)
    vault_1 = aux.get(state.vault_b)
    c = _LAST_PASS
    if c[0] is state and c[1] is config and c[2] is vault_0 and c[3] is vault_1:
        return c[4]
    parts = None
    if (config is not None and vault_0 is not None and vault_1 is not None
            and len(config) == AMM_CONFIG_LEN and len(vault_0) >= TOKEN_ACCOUNT_LEN
            and len(vault_1) >= TOKEN_ACCOUNT_LEN):  # fmt: skip
        disc, trade, protocol, fund, creator = _RATES.unpack_from(config, 0)
        if disc == AMM_CONFIG_DISCRIMINATOR:
            f0 = state.protocol_fees_token_0 + state.fund_fees_token_0 + state.creator_fees_token_0
            f1 = state.protocol_fees_token_1 + state.fund_fees_token_1 + state.creator_fees_token_1
            r0 = _U64.unpack_from(vault_0, 64)[0] - f0
            r1 = _U64.unpack_from(vault_1, 64)[0] - f1
            if r0 > 0 and r1 > 0 and f0 <= U64_MAX and f1 <= U64_MAX:
                parts = (r0, r1, trade, protocol, fund, creator)
    _LAST_PASS = (state, config, vault_0, vault_1, parts)
    return parts


def _bound_parts(state: CpmmPool, aux: Mapping[Pubkey, bytes],
                 a_to_b: bool) -> tuple[int, int, int, int, int, int, bool] | None:
    """``(reserve_0, reserve_1, trade, protocol, fund, creator rates, creator fee on input)`` as
    :func:`quote` reads them, or None where one of its checks raises (status, open time, config,
    vaults, fee accruals, creator fee mode)."""
    on = state.creator_fee_on
    if on <= 2 and not state.status & SWAP_STATUS_BIT and CLOCK_SYSVAR not in aux:
        parts = _one_pass(state, aux)  # the common case, as spot_rate
        if parts is not None:
            on_input = on == 0 or (on == 1 and a_to_b) or (on == 2 and not a_to_b)
            return (*parts, on_input)
    try:
        _approved_epoch(state, aux)
        trade, protocol, fund, creator = _rates(
            state.amm_config, loaded(aux, state.amm_config, NAME, "amm config"))  # fmt: skip
        r0, r1 = _vault_reserves(state, aux)
        return r0, r1, trade, protocol, fund, creator, _creator_fee_on_input(state, a_to_b)
    except DexError:
        return None


def quoter(state: CpmmPool, aux: Mapping[Pubkey, bytes], a_to_b: bool) -> Callable[[int], Quote]:
    """``x -> quote(state, aux, x, a_to_b)`` for a run of amounts while ``state`` and ``aux``
    stay as they are (one sizing): clock, fee rates and reserves are read once. Token-2022 pools,
    and any amount the curve refuses, go through :func:`quote` (same result, same errors).
    With the ``constant_product`` kernel the closure below runs in C (bit-identical)."""

    general = plain_quoter(quote, state, aux, a_to_b)

    if TOKEN_2022_PROGRAM_ID in (state.token_program_a, state.token_program_b):
        return general
    parts = _bound_parts(state, aux, a_to_b)
    if parts is None:
        return general  # each quote raises what the checks raised
    r0, r1, trade, protocol, fund, creator, on_input = parts
    r_in, r_out = (r0, r1) if a_to_b else (r1, r0)
    creator = creator if state.enable_creator_fee else 0
    # x -> _bound(...): a partial, not a closure (no cell per bound value)
    bound = partial(_bound, general, r_in, r_out, trade, creator, protocol, fund, on_input)
    if _NATIVE is not None:
        fast = _NATIVE.cpmm(r_in, r_out, trade, creator, on_input, general, bound, Quote)
        if fast is not None:  # None: a number outside u64 (the closure handles it)
            return fast  # type: ignore[no-any-return]
    return bound


def _bound(general: Callable[[int], Quote], r_in: int, r_out: int, trade: int, creator: int,
           protocol: int, fund: int, on_input: bool, x: int) -> Quote:
    """:func:`quoter`'s Python form for one amount: the curve where it answers, else
    ``general(x)`` (the full quote: same result, same errors)."""
    if not 0 < x <= U64_MAX:
        return general(x)
    try:
        out, _s, fee, _p, _f, cfee = swap_base_input(
            x, r_in, r_out, trade, creator, protocol, fund, on_input)  # fmt: skip
    except QuoteError:
        return general(x)
    if out <= 0:
        return general(x)
    return Quote(x, out, fee + cfee if on_input else fee)


def spot_rate(state: CpmmPool, aux: Mapping[Pubkey, bytes], a_to_b: bool) -> float:
    """Marginal output per input unit at zero size after trade and creator fees (float)."""
    parts = _one_pass(state, aux)  # the common case (per update, for every cycle through the
    if parts is not None:  # pool); the checked path below computes the same and raises the errors
        r0, r1, trade_rate, _p, _f, creator_rate = parts
        r_in, r_out = (r0, r1) if a_to_b else (r1, r0)
        creator = creator_rate if state.enable_creator_fee else 0
        return r_out / r_in * (1.0 - (trade_rate + creator) / FEE_RATE_DENOMINATOR)
    return _spot_rate_checked(state, aux, a_to_b)


def _spot_rate_checked(state: CpmmPool, aux: Mapping[Pubkey, bytes], a_to_b: bool) -> float:
    config = loaded(aux, state.amm_config, NAME, "amm config")
    trade_rate, _p, _f, creator_rate = _rates(state.amm_config, config)
    r0, r1 = _vault_reserves(state, aux)
    r_in, r_out = (r0, r1) if a_to_b else (r1, r0)
    creator = creator_rate if state.enable_creator_fee else 0
    return r_out / r_in * (1.0 - (trade_rate + creator) / FEE_RATE_DENOMINATOR)


def swap_instruction(
    state: CpmmPool,
    user: Pubkey,
    amount_in: int,
    min_out: int,
    a_to_b: bool,
    *,
    aux: Mapping[Pubkey, bytes] | None = None,
) -> Instruction:
    """``swap_base_input(amount_in, minimum_amount_out)`` with the IDL's account order, as the
    SDK's ``makeSwapCpmmBaseInInstruction`` builds it; user accounts are ATAs."""
    if a_to_b:
        mint_in, mint_out, vin, vout = state.mint_a, state.mint_b, state.vault_a, state.vault_b
        pin, pout = state.token_program_a, state.token_program_b
    else:
        mint_in, mint_out, vin, vout = state.mint_b, state.mint_a, state.vault_b, state.vault_a
        pin, pout = state.token_program_b, state.token_program_a
    metas = [
        AccountMeta(user, True, False),
        AccountMeta(AUTHORITY, False, False),
        AccountMeta(state.amm_config, False, False),
        AccountMeta(state.address, False, True),
        AccountMeta(associated_token_address(user, mint_in, pin), False, True),
        AccountMeta(associated_token_address(user, mint_out, pout), False, True),
        AccountMeta(vin, False, True),
        AccountMeta(vout, False, True),
        AccountMeta(pin, False, False),
        AccountMeta(pout, False, False),
        AccountMeta(mint_in, False, False),
        AccountMeta(mint_out, False, False),
        AccountMeta(state.observation_key, False, True),
    ]
    return Instruction(PROGRAM_ID, swap_data(state, amount_in, min_out, a_to_b), metas)


def swap_data(state: CpmmPool, amount_in: int, min_out: int, a_to_b: bool) -> bytes:
    """The data of :func:`swap_instruction` (``struct.error`` for an amount outside u64)."""
    return _SWAP_DATA.pack(SWAP_BASE_INPUT_DISCRIMINATOR, amount_in, min_out)


def swap_instruction_key(
    state: CpmmPool, a_to_b: bool, aux: Mapping[Pubkey, bytes] | None, arrays: Sequence[Pubkey]
) -> tuple[object, ...] | None:
    """Everything :func:`swap_instruction` reads besides ``user`` and the amounts: for one user,
    equal keys give instructions equal but for their :func:`swap_data`. ``None`` (not keyable)
    when ``arrays`` is given (this adapter takes none)."""
    if arrays:
        return None
    return (state.address, a_to_b, state.mint_a, state.mint_b, state.vault_a, state.vault_b,
            state.token_program_a, state.token_program_b, state.amm_config,
            state.observation_key)  # fmt: skip
