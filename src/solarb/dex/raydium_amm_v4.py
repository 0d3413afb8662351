"""Raydium AMM v4 (native constant-product program, ``675kPX9...``): layout, exact quote, swap ix.

Math follows the program's ``process_swap_base_in_v2`` (raydium-io/raydium-amm, program/src):

* reserves = vault amount - ``state_data.need_take_pnl_{coin,pc}`` (``CheckedSubOverflow`` if negative);
* ``swap_fee = ceil(amount_in * swap_fee_numerator / swap_fee_denominator)``;
* ``out = floor(reserve_out * (amount_in - swap_fee) / (reserve_in + amount_in - swap_fee))``;
* the program then fails with ``ExceededSlippage`` (30) if ``out < min_out``, ``InvalidInput`` (29) if
  ``out == 0`` and ``InsufficientFunds`` (40) if ``out >= reserve_out``.

The swap instruction is ``SwapBaseInV2`` (tag 16, no OpenBook market accounts): the instruction that
``@raydium-io/raydium-sdk-v2`` builds for non-stable v4 pools (``makeAMMSwapV2Instruction``, used by
both ``liquidity.swap`` and the trade router). Only the classic SPL Token program is supported by v4.

Errors: :class:`DecodeError` for bytes that are not an ``AmmInfo``; :class:`QuoteError` (with the
program's code) where the program would fail; :class:`MissingAccount` when a vault is not loaded.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial

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
    TOKEN_ACCOUNT_LEN,
    TOKEN_PROGRAM_ID,
    associated_token_address,
    token_account_amount,
)
from solarb.native.slots import frozen_maker

__all__ = [
    "AMM_INFO_LEN",
    "AUTHORITY_SEED",
    "ERRORS",
    "NAME",
    "PROGRAM_ID",
    "AmmV4Pool",
    "aux_accounts",
    "authority_address",
    "decode_pool",
    "encode_amm_info",
    "quote",
    "quoter",
    "reserves",
    "spot_rate",
    "swap_amounts",
    "swap_data",
    "swap_instruction",
    "swap_instruction_key",
]

NAME = "raydium_amm_v4"
PROGRAM_ID = Pubkey.from_string("675kPX9MHTjS2zt1qfr1NYHuzeLXfQM9H24wFSUt1Mp8")
AUTHORITY_SEED = b"amm authority"
AMM_INFO_LEN = 752
U64_MAX = 2**64 - 1

SWAP_BASE_IN_V2_TAG = 16

# AmmStatus values (state.rs); swap is allowed in Initialized, SwapOnly and WaitingTrade.
STATUS_UNINITIALIZED = 0
STATUS_SWAP_ONLY = 6
STATUS_WAITING_TRADE = 7
SWAP_STATUSES = frozenset({1, 6, 7})
STATUS_OFFSET = 0

# Program error codes (AmmError, program/src/error.rs, in declaration order).
ERRORS: dict[int, str] = dict(
    enumerate(
        (
            "AlreadyInUse InvalidProgramAddress ExpectedMint ExpectedAccount InvalidCoinVault "
            "InvalidPCVault InvalidTokenLP InvalidDestTokenCoin InvalidDestTokenPC InvalidPoolMint "
            "InvalidOpenOrders InvalidMarket InvalidMarketProgram InvalidTargetOrders "
            "AccountNeedWriteable AccountNeedReadOnly InvalidCoinMint InvalidPCMint InvalidOwner "
            "InvalidSupply InvalidDelegate InvalidSignAccount InvalidStatus InvalidInstruction "
            "WrongAccountsNumber InvalidTargetAccountOwner InvalidTargetOwner InvalidAmmAccountOwner "
            "InvalidParamsSet InvalidInput ExceededSlippage CalculationExRateFailure "
            "CheckedSubOverflow CheckedAddOverflow CheckedMulOverflow CheckedDivOverflow "
            "CheckedEmptyFunds CalcPnlError InvalidSplTokenProgram TakePnlError InsufficientFunds "
            "ConversionFailure InvalidUserToken InvalidSrmMint InvalidSrmToken TooManyOpenOrders "
            "OrderAtSlotIsPlaced InvalidSysProgramAddress InvalidFee RepeatCreateAmm NotAllowZeroLP "
            "InvalidCloseAuthority InvalidFreezeAuthority InvalidReferPCMint InvalidConfigAccount "
            "RepeatCreateConfigAccount MarketLotSizeIsTooLarge InitLpAmountTooLess UnknownAmmError "
            "NotAllowed"
        ).split()
    )
)
ERR_INVALID_STATUS = 22
ERR_INVALID_INPUT = 29
ERR_EXCEEDED_SLIPPAGE = 30
ERR_CHECKED_SUB_OVERFLOW = 32
ERR_INSUFFICIENT_FUNDS = 40
ERR_NOT_ALLOWED = 59

# AmmInfo (#[repr(C, packed)], 752 bytes): 16 u64 header, Fees (8 u64), StateData, 9 pubkeys,
# padding1 [u64; 8], amm_owner, lp_amount, client_order_id, recent_epoch, padding2.
_AMM_INFO = struct.Struct(
    "<16Q"  # status nonce order_num depth coin_decimals pc_decimals state reset_flag min_size
    # vol_max_cut_ratio amount_wave coin_lot_size pc_lot_size min_price_mult max_price_mult sys_decimal
    "8Q"  # min_separate n/d, trade_fee n/d, pnl n/d, swap_fee n/d
    "8Q"  # need_take_pnl_coin/pc, total_pnl_pc/coin, pool_open_time, padding[2], orderbook_to_init_time
    "16s16sQ16s16sQ"  # swap_coin_in, swap_pc_out, swap_acc_pc_fee, swap_pc_in, swap_coin_out, acc_coin_fee
    "32s32s32s32s32s32s32s32s32s"  # coin/pc vault, coin/pc mint, lp_mint, open_orders, market,
    # market_program, target_orders
    "64s32sQQQQ"  # padding1, amm_owner, lp_amount, client_order_id, recent_epoch, padding2
)
assert _AMM_INFO.size == AMM_INFO_LEN
_SWAP_DATA = struct.Struct("<BQQ")
_U64 = struct.Struct("<Q")


@dataclass(slots=True, frozen=True)
class AmmV4Pool:
    """Decoded ``AmmInfo``. ``mint_a``/``vault_a`` are the coin (base) side, ``_b`` the pc (quote)."""

    address: Pubkey
    dex: str
    mint_a: Pubkey
    mint_b: Pubkey
    vault_a: Pubkey
    vault_b: Pubkey
    token_program_a: Pubkey
    token_program_b: Pubkey
    status: int
    nonce: int
    coin_decimals: int
    pc_decimals: int
    trade_fee_numerator: int
    trade_fee_denominator: int
    swap_fee_numerator: int
    swap_fee_denominator: int
    need_take_pnl_coin: int
    need_take_pnl_pc: int
    pool_open_time: int
    lp_mint: Pubkey
    open_orders: Pubkey
    market: Pubkey
    market_program: Pubkey
    target_orders: Pubkey
    amm_owner: Pubkey
    lp_amount: int


# Per-update decode cost: a pool's keys rarely change, so their parsed form is kept by the key
# bytes (offsets 336..720: nine keys, padding, amm_owner; bounded, cleared when full); and the
# frozen dataclass is filled through its slot setters (its __init__ goes through
# object.__setattr__ for each of the 27 fields, ~2x slower).
_KEYS_AT = slice(336, 720)
_KEYS: dict[bytes, tuple[Pubkey, ...]] = {}
_MAX_CACHED_KEYS = 8192
_new_pool = frozen_maker(AmmV4Pool)


def decode_pool(address: Pubkey, data: bytes) -> AmmV4Pool:
    """Decode a 752-byte ``AmmInfo``; :class:`DecodeError` on a wrong size or an invalid status."""
    if len(data) != AMM_INFO_LEN:
        raise DecodeError(f"raydium_amm_v4 pool {address}: {len(data)} bytes, expected {AMM_INFO_LEN}")
    f = _AMM_INFO.unpack(data)
    status = f[0]
    if not 1 <= status <= 7:
        raise DecodeError(f"raydium_amm_v4 pool {address}: invalid status {status}")
    blob = data[_KEYS_AT]
    k = _KEYS.get(blob)
    if k is None:  # coin/pc vault, coin/pc mint, lp mint, open orders, market, program, target
        pk = Pubkey.from_bytes
        k = remember(_KEYS, blob, (*(pk(f[i]) for i in range(38, 47)), pk(f[48])), _MAX_CACHED_KEYS)
    coin_vault, pc_vault, coin_mint, pc_mint, lp_mint, open_orders, market, program, target, owner = k
    # positional, in AmmV4Pool's field order (see _new_pool)
    return _new_pool(
        address, NAME, coin_mint, pc_mint, coin_vault, pc_vault, TOKEN_PROGRAM_ID,
        TOKEN_PROGRAM_ID, status, f[1], f[4], f[5], f[18], f[19], f[22], f[23], f[24], f[25],
        f[28], lp_mint, open_orders, market, program, target, owner, f[49],
    )  # fmt: skip


def encode_amm_info(
    *,
    status: int,
    nonce: int,
    coin_vault: Pubkey,
    pc_vault: Pubkey,
    coin_mint: Pubkey,
    pc_mint: Pubkey,
    lp_mint: Pubkey,
    open_orders: Pubkey,
    market: Pubkey,
    market_program: Pubkey,
    target_orders: Pubkey,
    amm_owner: Pubkey,
    coin_decimals: int = 9,
    pc_decimals: int = 6,
    trade_fee: tuple[int, int] = (25, 10_000),
    swap_fee: tuple[int, int] = (25, 10_000),
    need_take_pnl_coin: int = 0,
    need_take_pnl_pc: int = 0,
    pool_open_time: int = 0,
    lp_amount: int = 0,
) -> bytes:
    """Serialize an ``AmmInfo`` in the on-chain layout (other fields as a fresh mainnet pool has them:
    min_separate 5/10000, pnl 12/100, sys_decimal_value 10^pc_decimals... scaled like mainnet)."""
    sys_decimal = 10 ** max(coin_decimals, pc_decimals)
    header = (status, nonce, 7, 3, coin_decimals, pc_decimals, 2, 0, 1_000_000, 500, 0,
              10 ** max(coin_decimals - 3, 0), 10 ** max(pc_decimals - 3, 0), 1, 1_000_000_000,
              sys_decimal)  # fmt: skip
    fees = (5, 10_000, trade_fee[0], trade_fee[1], 12, 100, swap_fee[0], swap_fee[1])
    state = (need_take_pnl_coin, need_take_pnl_pc, 0, 0, pool_open_time, 0, 0, 0)
    z16 = bytes(16)
    return _AMM_INFO.pack(
        *header, *fees, *state, z16, z16, 0, z16, z16, 0,
        bytes(coin_vault), bytes(pc_vault), bytes(coin_mint), bytes(pc_mint), bytes(lp_mint),
        bytes(open_orders), bytes(market), bytes(market_program), bytes(target_orders),
        bytes(64), bytes(amm_owner), lp_amount, 0, 0, 0,
    )  # fmt: skip


@lru_cache(maxsize=16)
def authority_address(nonce: int) -> Pubkey:
    """The pool authority PDA, ``create_program_address([b"amm authority", [nonce]], PROGRAM_ID)``."""
    return Pubkey.create_program_address([AUTHORITY_SEED, bytes((nonce,))], PROGRAM_ID)


def aux_accounts(state: AmmV4Pool) -> list[Pubkey]:
    """Accounts a quote reads: ``[coin vault, pc vault]`` (the Clock sysvar is used when present)."""
    return [state.vault_a, state.vault_b]


def _vault_amount(aux: Mapping[Pubkey, bytes], vault: Pubkey) -> int:
    return token_account_amount(loaded(aux, vault, NAME, "vault"))


def reserves(state: AmmV4Pool, coin_amount: int, pc_amount: int) -> tuple[int, int]:
    """``(coin, pc)`` reserves the program swaps against: vault amounts minus pending PnL.
    Raises :class:`QuoteError` ``CheckedSubOverflow`` (32) when PnL exceeds the vault."""
    coin = coin_amount - state.need_take_pnl_coin
    pc = pc_amount - state.need_take_pnl_pc
    if coin < 0 or pc < 0:
        raise QuoteError("raydium_amm_v4: pending PnL exceeds vault", ERR_CHECKED_SUB_OVERFLOW)
    return coin, pc


def swap_amounts(
    amount_in: int, reserve_in: int, reserve_out: int, fee_numerator: int, fee_denominator: int
) -> tuple[int, int]:
    """``(amount_out, swap_fee)`` exactly as the program computes them (fee ceil, output floor).
    Does not apply the program's post-checks (zero output, reserve exhaustion). Where the program
    would panic (zero denominator, fee above input) raises :class:`QuoteError` without a code."""
    if fee_denominator == 0:
        raise QuoteError("raydium_amm_v4: zero swap fee denominator (program panics)")
    fee = -(-amount_in * fee_numerator // fee_denominator)
    net = amount_in - fee
    if net < 0:
        raise QuoteError("raydium_amm_v4: swap fee above input (program panics)")
    denominator = reserve_in + net
    if denominator == 0:
        raise InsufficientLiquidity("raydium_amm_v4: empty input reserve (program panics)")
    return reserve_out * net // denominator, fee


def _check_open(state: AmmV4Pool, aux: Mapping[Pubkey, bytes]) -> None:
    if state.status not in SWAP_STATUSES:
        raise QuoteError(f"raydium_amm_v4: status {state.status} does not allow swaps", ERR_INVALID_STATUS)
    if state.status == STATUS_WAITING_TRADE:
        clock = clock_fields(aux.get(CLOCK_SYSVAR))
        if clock is not None and clock[3] < state.pool_open_time:
            raise QuoteError("raydium_amm_v4: pool not open yet", ERR_INVALID_STATUS)


def quote(state: AmmV4Pool, aux: Mapping[Pubkey, bytes], amount_in: int, a_to_b: bool) -> Quote:
    """Exact ``swap_base_in`` result for ``amount_in`` base units (a_to_b = coin -> pc).

    ``fee`` is the swap fee in the input token (ceil). Raises :class:`QuoteError` with the
    program's code: InvalidStatus 22, InvalidInput 29 (zero in/out), InsufficientFunds 40
    (:class:`InsufficientLiquidity`), CheckedSubOverflow 32, NotAllowed 59; :class:`MissingAccount`."""
    if not 0 < amount_in <= U64_MAX:
        raise QuoteError(f"raydium_amm_v4: amount_in {amount_in} out of range", ERR_INVALID_INPUT)
    if state.mint_a == state.mint_b:
        raise QuoteError("raydium_amm_v4: coin mint equals pc mint", ERR_NOT_ALLOWED)
    _check_open(state, aux)
    coin, pc = reserves(state, _vault_amount(aux, state.vault_a), _vault_amount(aux, state.vault_b))
    r_in, r_out = (coin, pc) if a_to_b else (pc, coin)
    out, fee = swap_amounts(amount_in, r_in, r_out, state.swap_fee_numerator, state.swap_fee_denominator)
    if out == 0:
        raise QuoteError("raydium_amm_v4: zero output", ERR_INVALID_INPUT)
    if out >= r_out:
        raise InsufficientLiquidity("raydium_amm_v4: output exceeds reserve", ERR_INSUFFICIENT_FUNDS)
    return Quote(amount_in=amount_in, amount_out=out, fee=fee)


_LAST_PASS: tuple[object, object, object, tuple[int, int] | None] = (object(), None, None, None)
"""The latest :func:`_one_pass`: its state, vault datas and result (a spot rate per direction
and the quoters of an update read the same pass; the datas are immutable bytes, held here, so
equal identities give the same result). No state is the first item's object."""


def _one_pass(state: AmmV4Pool, aux: Mapping[Pubkey, bytes]) -> tuple[int, int] | None:
    """``(coin, pc)`` reserves read in one pass from vaults loaded at the expected size, the
    values :func:`reserves` gives; None where the checked readers would raise (missing or short
    vault, pending PnL above a vault). The latest pass is kept: the same state and vault data
    objects answer it again without reading."""
    global _LAST_PASS
    vault_a = aux.get(state.vault_a)
    vault_b = aux.get(state.vault_b)
    c = _LAST_PASS
    if c[0] is state and c[1] is vault_a and c[2] is vault_b:
        return c[3]
    parts = None
    if (vault_a is not None and vault_b is not None and len(vault_a) >= TOKEN_ACCOUNT_LEN
            and len(vault_b) >= TOKEN_ACCOUNT_LEN):  # fmt: skip
        coin = _U64.unpack_from(vault_a, 64)[0] - state.need_take_pnl_coin
        pc = _U64.unpack_from(vault_b, 64)[0] - state.need_take_pnl_pc
        if coin >= 0 and pc >= 0:
            parts = (coin, pc)
    _LAST_PASS = (state, vault_a, vault_b, parts)
    return parts


# The C form of quoter's closure (solarb.native._constant_product); None: the Python closure.
_NATIVE = native.load("constant_product")


def quoter(state: AmmV4Pool, aux: Mapping[Pubkey, bytes], a_to_b: bool) -> Callable[[int], Quote]:
    """``x -> quote(state, aux, x, a_to_b)`` for a run of amounts while ``state`` and ``aux``
    stay as they are (one sizing): status, open time and reserves are checked once; any amount
    the curve refuses goes through :func:`quote` (same result, same errors). With the
    ``constant_product`` kernel the closure below runs in C (bit-identical)."""

    general = plain_quoter(quote, state, aux, a_to_b)

    if state.mint_a == state.mint_b:
        return general
    status = state.status
    parts = (_one_pass(state, aux)  # the common case, as spot_rate
             if status in SWAP_STATUSES and status != STATUS_WAITING_TRADE else None)  # fmt: skip
    if parts is not None:
        coin, pc = parts
    else:
        try:
            _check_open(state, aux)
            coin, pc = reserves(state, _vault_amount(aux, state.vault_a),
                                _vault_amount(aux, state.vault_b))  # fmt: skip
        except DexError:
            return general  # each quote raises it
    r_in, r_out = (coin, pc) if a_to_b else (pc, coin)
    num, den = state.swap_fee_numerator, state.swap_fee_denominator
    bound = partial(_bound, general, r_in, r_out, num, den)  # a partial: no cell per value
    if _NATIVE is not None:
        fast = _NATIVE.amm_v4(r_in, r_out, num, den, general, bound, Quote)
        if fast is not None:  # None: a number outside u64 (the closure handles it)
            return fast  # type: ignore[no-any-return]
    return bound


def _bound(general: Callable[[int], Quote], r_in: int, r_out: int, num: int, den: int,
           x: int) -> Quote:
    """:func:`quoter`'s Python form for one amount: the curve where it answers, else
    ``general(x)`` (the full quote: same result, same errors)."""
    if not 0 < x <= U64_MAX:
        return general(x)
    try:
        out, fee = swap_amounts(x, r_in, r_out, num, den)
    except DexError:
        return general(x)
    if out == 0 or out >= r_out:
        return general(x)
    return Quote(x, out, fee)


def spot_rate(state: AmmV4Pool, aux: Mapping[Pubkey, bytes], a_to_b: bool) -> float:
    """Marginal output per input unit at zero size, after the swap fee (float, ranking only)."""
    parts = _one_pass(state, aux)  # the common case (per update, for every cycle through the
    if parts is not None:  # pool); the checked path below computes the same and raises the errors
        coin, pc = parts
        r_in, r_out = (coin, pc) if a_to_b else (pc, coin)
        if r_in == 0 or state.swap_fee_denominator == 0:
            return 0.0
        return r_out / r_in * (1.0 - state.swap_fee_numerator / state.swap_fee_denominator)
    return _spot_rate_checked(state, aux, a_to_b)


def _spot_rate_checked(state: AmmV4Pool, aux: Mapping[Pubkey, bytes], a_to_b: bool) -> float:
    coin, pc = reserves(state, _vault_amount(aux, state.vault_a), _vault_amount(aux, state.vault_b))
    r_in, r_out = (coin, pc) if a_to_b else (pc, coin)
    if r_in == 0 or state.swap_fee_denominator == 0:
        return 0.0
    keep = 1.0 - state.swap_fee_numerator / state.swap_fee_denominator
    return r_out / r_in * keep


def swap_instruction(
    state: AmmV4Pool,
    user: Pubkey,
    amount_in: int,
    min_out: int,
    a_to_b: bool,
    *,
    aux: Mapping[Pubkey, bytes] | None = None,
) -> Instruction:
    """``SwapBaseInV2`` (tag 16): [token program, amm (w), authority, coin vault (w), pc vault (w),
    user source ATA (w), user destination ATA (w), user (signer)], as the SDK's
    ``swapBaseInV2Instruction`` builds it."""
    mint_in, mint_out = (state.mint_a, state.mint_b) if a_to_b else (state.mint_b, state.mint_a)
    source = associated_token_address(user, mint_in, TOKEN_PROGRAM_ID)
    destination = associated_token_address(user, mint_out, TOKEN_PROGRAM_ID)
    metas = [
        AccountMeta(TOKEN_PROGRAM_ID, False, False),
        AccountMeta(state.address, False, True),
        AccountMeta(authority_address(state.nonce), False, False),
        AccountMeta(state.vault_a, False, True),
        AccountMeta(state.vault_b, False, True),
        AccountMeta(source, False, True),
        AccountMeta(destination, False, True),
        AccountMeta(user, True, False),
    ]
    return Instruction(PROGRAM_ID, swap_data(state, amount_in, min_out, a_to_b), metas)


def swap_data(state: AmmV4Pool, amount_in: int, min_out: int, a_to_b: bool) -> bytes:
    """The data of :func:`swap_instruction` (``struct.error`` for an amount outside u64)."""
    return _SWAP_DATA.pack(SWAP_BASE_IN_V2_TAG, amount_in, min_out)


def swap_instruction_key(
    state: AmmV4Pool, a_to_b: bool, aux: Mapping[Pubkey, bytes] | None, arrays: Sequence[Pubkey]
) -> tuple[object, ...] | None:
    """Everything :func:`swap_instruction` reads besides ``user`` and the amounts: for one user,
    equal keys give instructions equal but for their :func:`swap_data`. ``None`` (not keyable)
    when ``arrays`` is given (this adapter takes none)."""
    if arrays:
        return None
    return (state.address, a_to_b, state.mint_a, state.mint_b, state.nonce, state.vault_a,
            state.vault_b)  # fmt: skip
