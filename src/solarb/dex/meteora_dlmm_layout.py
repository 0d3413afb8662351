"""Meteora DLMM account layouts (``lb_clmm`` IDL 0.12, bytemuck zero-copy, little endian) and
the IDL's program error names (:data:`ERRORS`, re-exported by the adapter).

``LbPair`` 904 B, ``BinArray`` 10136 B (70 bins of 144 B), ``BinArrayBitmapExtension`` 1576 B,
``Oracle`` 32 B header + 32 B observations. Decoders raise :class:`DecodeError` on size or
discriminator; encoders are their inverses (padding zeroed) for the local cluster.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from solders.pubkey import Pubkey

from solarb.dex.base import DecodeError
from solarb.native.slots import frozen_maker

__all__ = [
    "BIN_ARRAY_DISCRIMINATOR",
    "BIN_ARRAY_LEN",
    "BIN_LEN",
    "BITMAP_EXTENSION_LEN",
    "ERRORS",
    "LB_PAIR_DISCRIMINATOR",
    "LB_PAIR_LEN",
    "ORACLE_DISCRIMINATOR",
    "Bin",
    "BinArray",
    "BitmapExtension",
    "LazyBins",
    "LbPair",
    "Oracle",
    "decode_bin_array",
    "decode_bitmap_extension",
    "decode_lb_pair",
    "decode_oracle",
    "encode_bin",
    "encode_bin_array",
    "encode_bitmap_extension",
    "encode_lb_pair",
    "encode_oracle",
    "update_oracle",
]


ERRORS: dict[int, str] = {  # program error code -> name (IDL order from 6000)
    6000 + i: n
    for i, n in enumerate(
        "InvalidStartBinIndex InvalidBinId InvalidInput ExceededAmountSlippageTolerance "
        "ExceededBinSlippageTolerance CompositionFactorFlawed NonPresetBinStep ZeroLiquidity "
        "InvalidPosition BinArrayNotFound InvalidTokenMint InvalidAccountForSingleDeposit "
        "PairInsufficientLiquidity InvalidFeeOwner InvalidFeeWithdrawAmount InvalidAdmin "
        "IdenticalFeeOwner InvalidBps MathOverflow TypeCastFailed InvalidRewardIndex "
        "InvalidRewardDuration RewardInitialized RewardUninitialized IdenticalFunder "
        "RewardCampaignInProgress IdenticalRewardDuration InvalidBinArray NonContinuousBinArrays "
        "InvalidRewardVault NonEmptyPosition UnauthorizedAccess InvalidFeeParameter MissingOracle "
        "InsufficientSample InvalidLookupTimestamp BitmapExtensionAccountIsNotProvided "
        "CannotFindNonZeroLiquidityBinArrayId BinIdOutOfBound InsufficientOutAmount "
        "InvalidPositionWidth ExcessiveFeeUpdate PoolDisabled InvalidPoolType ExceedMaxWhitelist "
        "InvalidIndex RewardNotEnded MustWithdrawnIneligibleReward UnauthorizedAddress "
        "OperatorsAreTheSame WithdrawToWrongTokenAccount WrongRentReceiver AlreadyPassActivationPoint "
        "ExceedMaxSwappedAmount InvalidStrategyParameters LiquidityLocked BinRangeIsNotEmpty "
        "NotExactAmountOut InvalidActivationType InvalidActivationDuration "
        "MissingTokenAmountAsTokenLaunchProof InvalidQuoteToken InvalidBinStep InvalidBaseFee "
        "InvalidPreActivationDuration AlreadyPassPreActivationSwapPoint InvalidStatus "
        "ExceededMaxOracleLength InvalidMinimumLiquidity NotSupportMint UnsupportedMintExtension "
        "UnsupportNativeMintToken2022 UnmatchTokenMint UnsupportedTokenMint "
        "InsufficientRemainingAccounts InvalidRemainingAccountSlice DuplicatedRemainingAccountTypes "
        "MissingRemainingAccountForTransferHook NoTransferHookProgram ZeroFundedAmount InvalidSide "
        "InvalidResizeLength NotSupportAtTheMoment InvalidRebalanceParameters InvalidRewardAccounts "
        "UndeterminedError ReallocExceedMaxLengthPerInstruction InvalidBaseFeeMantissa "
        "InvalidPositionOwner InvalidPoolAddress InvalidTokenBadgeType InvalidTransferHookAuthority "
        "AmountXIsNegative AmountYIsNegative InvalidPoolCreator InvalidFunctionType InvalidPermission "
        "IncorrectATA InvalidWithdrawProtocolFeeZapAccounts MintRestrictedFromZap CpiDisabled "
        "MissingZapOutInstruction InvalidZapAccounts InvalidZapOutParameters InsufficientInAmount "
        "InvalidPlaceLimitOrderParameters InvalidLimitOrderOwner InvalidCancelLimitOrderParameters "
        "CannotFindLimitOrderByBinId CancelNonEmptyLimitOrder InvalidCollectFeeMode".split()
    )
}

def _disc(name: str) -> bytes:
    return hashlib.sha256(f"account:{name}".encode()).digest()[:8]


LB_PAIR_DISCRIMINATOR = _disc("LbPair")
BIN_ARRAY_DISCRIMINATOR = _disc("BinArray")
BITMAP_EXTENSION_DISCRIMINATOR = _disc("BinArrayBitmapExtension")
ORACLE_DISCRIMINATOR = _disc("Oracle")

LB_PAIR_LEN = 904
BIN_LEN = 144
BIN_ARRAY_LEN = 10136
BITMAP_EXTENSION_LEN = 1576
ORACLE_HEADER_LEN = 32
OBSERVATION_LEN = 32

# disc | StaticParameters | VariableParameters | bump, bin_step_seed, pair_type, active_id, bin_step,
# status, require_base_factor_seed, base_factor_seed, activation_type, creator_pool_on_off_control
# | mints, reserves | protocol_fee x/y | padding_1 | reward_infos (2 x 144) | oracle | bitmap [u64;16]
# | last_updated_at | padding_2 | pre_activation_swap_address, base_key | activation_point,
# pre_activation_duration | padding_3, padding_4 | creator | program flags x/y, version | reserved
_LB_PAIR = struct.Struct(
    "<8s" "4HII" "ii" "HBBB3s" "IIi4sq8s" "B2sBiHBB2sBB" "32s32s32s32s" "QQ" "32s" "288s" "32s"
    "128s" "q" "32s" "32s32s" "QQ" "8sQ" "32s" "BBB" "21s"
)
assert _LB_PAIR.size == LB_PAIR_LEN
# what decode_lb_pair reads: the same layout with padding and reserved bytes skipped (x) and
# the adjacent keys read as one field (mints and reserves; pre-activation address and base key)
_LB_PAIR_READ = struct.Struct(
    "<8s" "4HII" "ii" "HBBB3x" "IIi4xq8x" "B2sBiHBB2sBB" "128s" "QQ" "32x" "288s" "32s" "128s" "q"
    "32x" "64s" "QQ" "16x" "32s" "BBB" "21x"
)
assert _LB_PAIR_READ.size == LB_PAIR_LEN
OFF_V_PARAMETERS = 40
OFF_ACTIVE_ID = 76
OFF_PROTOCOL_FEE_X = 216
OFF_BITMAP = 584
_VPARAMS = struct.Struct("<IIi4sq8s")
_BIN = struct.Struct("<QQ16s16sQQQQ16s16sQQQIB3s")
assert _BIN.size == BIN_LEN
_BIN_ARRAY_HEADER = struct.Struct("<8sqB7s32s")
OFF_BINS = _BIN_ARRAY_HEADER.size
BINS_PER_ARRAY = 70


def _u128(b: bytes) -> int:
    return int.from_bytes(b, "little")


@dataclass(slots=True, frozen=True)
class LbPair:
    """Decoded ``LbPair``. ``mint_a``/``vault_a`` are token X, ``_b`` token Y; reserves are the
    pair-owned token accounts. ``bin_array_bitmap`` is the 1024-bit internal bitmap as an int
    (bit ``i + 512`` = bin array ``i`` has liquidity)."""

    address: Pubkey
    dex: str
    mint_a: Pubkey
    mint_b: Pubkey
    vault_a: Pubkey
    vault_b: Pubkey
    token_program_a: Pubkey
    token_program_b: Pubkey
    base_factor: int
    filter_period: int
    decay_period: int
    reduction_factor: int
    variable_fee_control: int
    max_volatility_accumulator: int
    min_bin_id: int
    max_bin_id: int
    protocol_share: int
    base_fee_power_factor: int
    function_type: int
    collect_fee_mode: int
    volatility_accumulator: int
    volatility_reference: int
    index_reference: int
    last_update_timestamp: int
    bump_seed: int
    bin_step_seed: bytes
    pair_type: int
    active_id: int
    bin_step: int
    status: int
    require_base_factor_seed: int
    base_factor_seed: bytes
    activation_type: int
    creator_pool_on_off_control: int
    protocol_fee_x: int
    protocol_fee_y: int
    reward_infos: bytes
    oracle: Pubkey
    bin_array_bitmap: int
    last_updated_at: int
    pre_activation_swap_address: Pubkey
    base_key: Pubkey
    activation_point: int
    pre_activation_duration: int
    creator: Pubkey
    token_mint_x_program_flag: int
    token_mint_y_program_flag: int
    version: int

    @property
    def reward_mints(self) -> tuple[Pubkey, Pubkey]:
        """Mints of the two reward slots (default pubkey when unused)."""
        return (Pubkey.from_bytes(self.reward_infos[0:32]), Pubkey.from_bytes(self.reward_infos[144:176]))


_TOKEN_PROGRAMS = (
    Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"),
    Pubkey.from_string("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb"),
)


_MAKE_LB_PAIR = frozen_maker(LbPair)  # every field, positional, without type.__call__
_PAIR_KEYS: dict[Pubkey, tuple[tuple[bytes, ...], tuple[Pubkey, ...], bytes, int]] = {}
"""Per pair: the raw key fields of its last decoded version (as ``_LB_PAIR_READ`` reads them)
and their Pubkeys, its raw bin-array bitmap and that as an int (they rarely change: a new
version reuses them)."""


def decode_lb_pair(address: Pubkey, data: bytes, dex: str = "meteora_dlmm") -> LbPair:
    """Decode a 904-byte ``LbPair``; :class:`DecodeError` on size, discriminator or token flags."""
    if len(data) != LB_PAIR_LEN:
        raise DecodeError(f"meteora_dlmm pair {address}: {len(data)} bytes, expected {LB_PAIR_LEN}")
    (disc, base_factor, filter_p, decay_p, reduction, vfc, max_va, min_bin, max_bin, share, power,
     function_type, fee_mode, va, vr, iref, last_ts, bump, bs_seed, pair_type, active_id,
     bin_step, status, req_bf, bf_seed, act_type, on_off, mints_reserves, pfx, pfy, rewards,
     oracle, bitmap, last_updated_at, pre_base, act_point, pre_dur, creator, flag_x, flag_y,
     version) = _LB_PAIR_READ.unpack(data)  # fmt: skip
    if disc != LB_PAIR_DISCRIMINATOR:
        raise DecodeError(f"meteora_dlmm pair {address}: discriminator {disc.hex()} is not LbPair")
    if flag_x > 1 or flag_y > 1:
        raise DecodeError(f"meteora_dlmm pair {address}: token program flags {flag_x}/{flag_y}")
    raw = (mints_reserves, oracle, pre_base, creator)
    known = _PAIR_KEYS.get(address)
    if known is not None and known[0] == raw:
        keys = known[1]
        if known[2] == bitmap:
            bits = known[3]
        else:
            bits = int.from_bytes(bitmap, "little")
            _PAIR_KEYS[address] = (raw, keys, bitmap, bits)
    else:  # mint x, mint y, reserve x, reserve y, oracle, pre-activation address, base, creator
        keys = tuple(map(Pubkey.from_bytes, (
            mints_reserves[:32], mints_reserves[32:64], mints_reserves[64:96], mints_reserves[96:],
            oracle, pre_base[:32], pre_base[32:], creator,
        )))  # fmt: skip
        bits = int.from_bytes(bitmap, "little")
        _PAIR_KEYS[address] = (raw, keys, bitmap, bits)
    return _MAKE_LB_PAIR(
        address, dex, keys[0], keys[1], keys[2], keys[3], _TOKEN_PROGRAMS[flag_x],
        _TOKEN_PROGRAMS[flag_y], base_factor, filter_p, decay_p, reduction, vfc, max_va, min_bin,
        max_bin, share, power, function_type, fee_mode, va, vr, iref, last_ts, bump, bs_seed,
        pair_type, active_id, bin_step, status, req_bf, bf_seed, act_type, on_off, pfx, pfy,
        rewards, keys[4], bits, last_updated_at, keys[5], keys[6],
        act_point, pre_dur, keys[7], flag_x, flag_y, version,
    )  # fmt: skip


def encode_lb_pair(p: LbPair) -> bytes:
    """Serialize an ``LbPair`` (inverse of :func:`decode_lb_pair`; padding zeroed)."""
    return _LB_PAIR.pack(
        LB_PAIR_DISCRIMINATOR, p.base_factor, p.filter_period, p.decay_period, p.reduction_factor,
        p.variable_fee_control, p.max_volatility_accumulator, p.min_bin_id, p.max_bin_id,
        p.protocol_share, p.base_fee_power_factor, p.function_type, p.collect_fee_mode, bytes(3),
        p.volatility_accumulator, p.volatility_reference, p.index_reference, bytes(4),
        p.last_update_timestamp, bytes(8), p.bump_seed, p.bin_step_seed, p.pair_type, p.active_id,
        p.bin_step, p.status, p.require_base_factor_seed, p.base_factor_seed, p.activation_type,
        p.creator_pool_on_off_control, bytes(p.mint_a), bytes(p.mint_b), bytes(p.vault_a),
        bytes(p.vault_b), p.protocol_fee_x, p.protocol_fee_y, bytes(32), p.reward_infos,
        bytes(p.oracle), p.bin_array_bitmap.to_bytes(128, "little"), p.last_updated_at, bytes(32),
        bytes(p.pre_activation_swap_address), bytes(p.base_key), p.activation_point,
        p.pre_activation_duration, bytes(8), 0, bytes(p.creator), p.token_mint_x_program_flag,
        p.token_mint_y_program_flag, p.version, bytes(21),
    )  # fmt: skip


def pack_v_parameters(va: int, vr: int, index_reference: int, last_update_timestamp: int) -> bytes:
    """The 32-byte ``VariableParameters`` at :data:`OFF_V_PARAMETERS`."""
    return _VPARAMS.pack(va, vr, index_reference, bytes(4), last_update_timestamp, bytes(8))


@dataclass(slots=True, frozen=True)
class Bin:
    """One bin's swap-relevant fields (limit-order amounts as stored, side unfiltered)."""

    amount_x: int
    amount_y: int
    price: int
    liquidity_supply: int
    open_order_amount: int
    processed_order_remaining_amount: int
    limit_order_ask_side: bool


@dataclass(slots=True, frozen=True)
class BinArray:
    """Decoded ``BinArray``; ``bins[i]`` is bin ``index * 70 + i``."""

    address: Pubkey
    index: int
    version: int
    lb_pair: Pubkey
    bins: tuple[Bin, ...]


def decode_bin(data: bytes, offset: int) -> Bin:
    """Decode the 144-byte ``Bin`` at ``offset``. ``data`` may be the market's compact form
    (:class:`~solarb.market.compact.SparseBytes`): only the bin's bytes are materialized."""
    if not isinstance(data, bytes):
        data, offset = bytes(data[offset : offset + BIN_LEN]), 0
    (ax, ay, price, liq, _fx, _fy, _la, _lb, _fxs, _fys, open_amt, _proc_total, processed, _age,
     ask, _pad) = _BIN.unpack_from(data, offset)  # fmt: skip
    return Bin(ax, ay, _u128(price), _u128(liq), open_amt, processed, ask != 0)


class LazyBins:
    """The bins of one (checked) bin-array version, each decoded on first use by ``[i]`` (a
    quote reads a few of the 70)."""

    __slots__ = ("data", "decoded")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.decoded: dict[int, Bin] = {}

    def __getitem__(self, i: int) -> Bin:
        b = self.decoded.get(i)
        if b is None:
            if not 0 <= i < BINS_PER_ARRAY:
                raise IndexError(i)
            b = self.decoded[i] = decode_bin(self.data, OFF_BINS + i * BIN_LEN)
        return b


def decode_bin_array(address: Pubkey, data: bytes) -> BinArray:
    """Decode a 10136-byte ``BinArray``; :class:`DecodeError` on size or discriminator."""
    if not isinstance(data, bytes):  # the market's compact form (SparseBytes)
        data = bytes(data)
    if len(data) != BIN_ARRAY_LEN:
        raise DecodeError(f"meteora_dlmm bin array {address}: {len(data)} bytes, expected {BIN_ARRAY_LEN}")
    disc, index, version, _pad, lb_pair = _BIN_ARRAY_HEADER.unpack_from(data, 0)
    if disc != BIN_ARRAY_DISCRIMINATOR:
        raise DecodeError(f"meteora_dlmm bin array {address}: discriminator {disc.hex()} is not BinArray")
    bins = tuple(decode_bin(data, OFF_BINS + i * BIN_LEN) for i in range(70))
    return BinArray(address, index, version, Pubkey.from_bytes(lb_pair), bins)


def encode_bin(ax: int, ay: int, price: int, liq: int, open_orders: int = 0, processed: int = 0,
               ask_side: int = 0) -> bytes:
    """One 144-byte ``Bin`` (fee/reward accumulators and limit-order bookkeeping zero)."""
    return _BIN.pack(ax, ay, price.to_bytes(16, "little"), liq.to_bytes(16, "little"), 0, 0, 0, 0,
                     bytes(16), bytes(16), open_orders, 0, processed, 0, int(ask_side), bytes(3))  # fmt: skip


def encode_bin_array(index: int, lb_pair: Pubkey, bins: list[tuple[int, ...]]) -> bytes:
    """A version-1 ``BinArray``; each of the 70 bins is ``(amount_x, amount_y, price,
    liquidity_supply[, open_order_amount, processed_order_remaining_amount, ask_side])``."""
    out = bytearray(_BIN_ARRAY_HEADER.pack(BIN_ARRAY_DISCRIMINATOR, index, 1, bytes(7), bytes(lb_pair)))
    for b in bins:
        out += encode_bin(*b)
    assert len(out) == BIN_ARRAY_LEN
    return bytes(out)


@dataclass(slots=True, frozen=True)
class BitmapExtension:
    """Decoded ``BinArrayBitmapExtension``: 12 positive and 12 negative 512-bit words as ints
    (positive word k bit b = array ``(k + 1) * 512 + b``; negative = ``-((k + 1) * 512 + b) - 1``)."""

    address: Pubkey
    lb_pair: Pubkey
    positive: tuple[int, ...]
    negative: tuple[int, ...]


def decode_bitmap_extension(address: Pubkey, data: bytes) -> BitmapExtension:
    """Decode a 1576-byte ``BinArrayBitmapExtension``; :class:`DecodeError` on size/discriminator."""
    if len(data) != BITMAP_EXTENSION_LEN or data[:8] != BITMAP_EXTENSION_DISCRIMINATOR:
        raise DecodeError(f"meteora_dlmm bitmap extension {address}: not a BinArrayBitmapExtension")
    words = [int.from_bytes(data[40 + 64 * i : 104 + 64 * i], "little") for i in range(24)]
    return BitmapExtension(address, Pubkey.from_bytes(data[8:40]), tuple(words[:12]), tuple(words[12:]))


def encode_bitmap_extension(lb_pair: Pubkey, positive: list[int], negative: list[int]) -> bytes:
    """Serialize a ``BinArrayBitmapExtension`` (inverse of :func:`decode_bitmap_extension`)."""
    words = b"".join(w.to_bytes(64, "little") for w in list(positive) + list(negative))
    return BITMAP_EXTENSION_DISCRIMINATOR + bytes(lb_pair) + words


@dataclass(slots=True, frozen=True)
class Oracle:
    """Decoded ``Oracle``: ring of ``(cumulative_active_bin_id, created_at, last_updated_at)``;
    ``idx`` is the latest sample, ``active_size`` how many are initialised."""

    idx: int
    active_size: int
    length: int
    observations: tuple[tuple[int, int, int], ...]


_ORACLE_HEADER = struct.Struct("<8sQQQ")
_OBSERVATION = struct.Struct("<16sqq")
SAMPLE_LIFETIME = 120


def decode_oracle(address: Pubkey, data: bytes) -> Oracle:
    """Decode an ``Oracle`` account; :class:`DecodeError` on discriminator or a short ring."""
    if len(data) < ORACLE_HEADER_LEN or data[:8] != ORACLE_DISCRIMINATOR:
        raise DecodeError(f"meteora_dlmm oracle {address}: not an Oracle")
    _d, idx, active, length = _ORACLE_HEADER.unpack_from(data, 0)
    if len(data) < ORACLE_HEADER_LEN + OBSERVATION_LEN * length or idx >= max(length, 1):
        raise DecodeError(f"meteora_dlmm oracle {address}: {length} samples do not fit {len(data)} bytes")
    obs = []
    for i in range(length):
        cum, created, updated = _OBSERVATION.unpack_from(data, ORACLE_HEADER_LEN + OBSERVATION_LEN * i)
        obs.append((int.from_bytes(cum, "little", signed=True), created, updated))
    return Oracle(idx, active, length, tuple(obs))


def update_oracle(data: bytes, active_id: int, now: int) -> bytes:
    """The program's ``DynamicOracle::update``: accumulate ``active_id * elapsed`` into the latest
    sample, moving to (and resetting) the next ring slot once the sample is ``SAMPLE_LIFETIME``
    (120 s) old. Returns the new account data."""
    o = decode_oracle(Pubkey.default(), data)
    buf = bytearray(data)
    idx, active = o.idx, o.active_size
    if active == 0:
        active = 1
    cum, created, updated = o.observations[idx]
    initialized = created > 0 and updated > 0
    new_cum = cum + active_id * (now - updated) if initialized else active_id
    if initialized and now >= created + SAMPLE_LIFETIME:
        idx = (idx + 1) % o.length
        n_created, n_updated = o.observations[idx][1:]
        if not (n_created > 0 and n_updated > 0):
            active = min(active + 1, o.length)
        created = 0
        initialized = False
    if not initialized:
        created = now
    struct.pack_into("<QQ", buf, 8, idx, active)
    _OBSERVATION.pack_into(buf, ORACLE_HEADER_LEN + OBSERVATION_LEN * idx,
                           new_cum.to_bytes(16, "little", signed=True), created, now)  # fmt: skip
    return bytes(buf)


def encode_oracle(length: int = 100) -> bytes:
    """An initialised ``Oracle`` (idx 0, active_size 0, ``length`` empty observations)."""
    header = ORACLE_DISCRIMINATOR + struct.pack("<QQQ", 0, 0, length)
    return header + bytes(OBSERVATION_LEN * length)
