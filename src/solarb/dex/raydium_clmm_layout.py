"""Raydium CLMM (amm_v3, ``CAMMCzo5...``) account layouts, PDAs and tick-array navigation.

Layouts follow raydium-io/raydium-clmm ``programs/amm/src/states`` (zero-copy, packed):
``PoolState`` 1544 B, ``AmmConfig`` 117 B (borsh), ``TickArrayState`` 10240 B (60 ticks of 168 B),
``TickArrayBitmapExtension`` 1832 B, ``ObservationState`` 4483 B. Navigation over the pool's
1024-bit ``tick_array_bitmap`` and the extension's 14+14 512-bit bitmaps mirrors the program's
``tick_array_bit_map.rs`` / ``tickarray_bitmap_extension.rs`` / ``PoolState`` helpers, including
their error codes. Bitmaps are Python ints (bit i = word i//64, bit i%64, little-endian).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from functools import lru_cache

from solders.pubkey import Pubkey

from solarb.dex.base import DecodeError, QuoteError, remember
from solarb.dex.spl_token import TOKEN_PROGRAM_ID as _TOKEN_PROGRAM_ID
from solarb.native.slots import frozen_maker

__all__ = [
    "AMM_CONFIG_LEN", "ERRORS", "EXTENSION_LEN", "MAX_TICK", "MIN_TICK", "NAME", "OBSERVATION_LEN",
    "POOL_LEN", "PROGRAM_ID", "TICK_ARRAY_LEN", "TICK_ARRAY_SIZE", "AmmConfig", "BitmapExtension",
    "ClmmPool", "DynamicFeeInfo", "TickArray", "TickState", "amm_config_address",
    "bitmap_extension_address", "decode_amm_config", "decode_extension", "decode_pool",
    "decode_tick_array", "encode_amm_config", "encode_dynamic_fee", "encode_extension",
    "encode_pool", "encode_tick", "encode_tick_array", "observation_address", "pool_address",
    "program_error", "reward_growths", "tick_array_address", "vault_address",
]

NAME = "raydium_clmm"
PROGRAM_ID = Pubkey.from_string("CAMMCzo5YL8w4VFF8KVHrK22GGUsp5VTaW7grrKgrWqK")
MIN_TICK = -443636
MAX_TICK = 443636
TICK_ARRAY_SIZE = 60
BITMAP_SIZE = 512  # tick arrays per side of the default bitmap
EXT_BITMAPS = 14

POOL_LEN = 1544
AMM_CONFIG_LEN = 117
TICK_LEN = 168
TICK_ARRAY_LEN = 10240
EXTENSION_LEN = 1832
OBSERVATION_LEN = 4483


def _disc(name: str) -> bytes:
    return hashlib.sha256(f"account:{name}".encode()).digest()[:8]


POOL_DISCRIMINATOR = _disc("PoolState")
AMM_CONFIG_DISCRIMINATOR = _disc("AmmConfig")
TICK_ARRAY_DISCRIMINATOR = _disc("TickArrayState")
EXTENSION_DISCRIMINATOR = _disc("TickArrayBitmapExtension")
OBSERVATION_DISCRIMINATOR = _disc("ObservationState")

ERRORS: dict[int, str] = {
    6000 + i: n
    for i, n in enumerate(
        "NotApproved InvalidUpdateConfigFlag AccountLack ClosePositionErr InvalidTickIndex "
        "TickInvalidOrder TickLowerOverflow TickUpperOverflow TickAndSpacingNotMatch "
        "InvalidTickArray InvalidTickArrayBoundary SqrtPriceLimitOverflow SqrtPriceX64 "
        "LiquiditySubValueErr LiquidityAddValueErr ForbidBothZeroForSupplyLiquidity "
        "LiquidityInsufficient PriceSlippageCheck TooLittleOutputReceived TooMuchInputPaid "
        "ZeroAmountSpecified InvalidInputPoolVault TooSmallInputOrOutputAmount "
        "NotEnoughTickArrayAccount InvalidFirstTickArrayAccount InvalidRewardIndex FullRewardInfo "
        "RewardTokenAlreadyInUse ExceptRewardMint InvalidRewardInitParam "
        "InvalidRewardInputAccountNumber InvalidRewardPeriod NotApproveUpdateRewardEmissions "
        "UnInitializedRewardInfo NotSupportMint MissingTickArrayBitmapExtensionAccount "
        "InsufficientLiquidityForDirection MaxTokenOverflow CalculateOverflow "
        "TransferFeeCalculateNotMatch OrderAlreadyFilled InvalidOrderPhase InvalidLimitOrderAmount "
        "OrderPhaseSaturated InvalidDynamicFeeConfigParams InvalidFeeOn ZeroSqrtPrice "
        "ZeroLiquidity "
        "MissingBaseFlag MissingMintAccount MissingTokenProgram2022 "
        "InvalidTickArrayBitmapExtensionAccount".split()
    )
}
_CODE = {n: c for c, n in ERRORS.items()}
ERR_NOT_APPROVED = _CODE["NotApproved"]
ERR_INVALID_TICK_INDEX = _CODE["InvalidTickIndex"]
ERR_TICK_UPPER_OVERFLOW = _CODE["TickUpperOverflow"]
ERR_INVALID_TICK_ARRAY = _CODE["InvalidTickArray"]
ERR_INVALID_TICK_ARRAY_BOUNDARY = _CODE["InvalidTickArrayBoundary"]
ERR_SQRT_PRICE_LIMIT_OVERFLOW = _CODE["SqrtPriceLimitOverflow"]
ERR_SQRT_PRICE_X64 = _CODE["SqrtPriceX64"]
ERR_LIQUIDITY_SUB = _CODE["LiquiditySubValueErr"]
ERR_LIQUIDITY_ADD = _CODE["LiquidityAddValueErr"]
ERR_LIQUIDITY_INSUFFICIENT = _CODE["LiquidityInsufficient"]
ERR_TOO_LITTLE_OUTPUT = _CODE["TooLittleOutputReceived"]
ERR_TOO_MUCH_INPUT = _CODE["TooMuchInputPaid"]
ERR_ZERO_AMOUNT = _CODE["ZeroAmountSpecified"]
ERR_INVALID_INPUT_VAULT = _CODE["InvalidInputPoolVault"]
ERR_TOO_SMALL = _CODE["TooSmallInputOrOutputAmount"]
ERR_NOT_ENOUGH_TICK_ARRAYS = _CODE["NotEnoughTickArrayAccount"]
ERR_INVALID_FIRST_TICK_ARRAY = _CODE["InvalidFirstTickArrayAccount"]
ERR_MISSING_EXTENSION = _CODE["MissingTickArrayBitmapExtensionAccount"]
ERR_NO_LIQUIDITY_DIRECTION = _CODE["InsufficientLiquidityForDirection"]
ERR_MAX_TOKEN_OVERFLOW = _CODE["MaxTokenOverflow"]
ERR_CALCULATE_OVERFLOW = _CODE["CalculateOverflow"]
ERR_ZERO_SQRT_PRICE = _CODE["ZeroSqrtPrice"]
ERR_ZERO_LIQUIDITY = _CODE["ZeroLiquidity"]
ERR_INVALID_EXTENSION = _CODE["InvalidTickArrayBitmapExtensionAccount"]
ANCHOR_REQUIRE_EQ = 2501  # require_eq! without a custom code (RequireEqViolated)
ANCHOR_REQUIRE_KEYS_EQ = 2502
ANCHOR_REQUIRE_GT = 2505
ANCHOR_REQUIRE_GTE = 2506


def program_error(code: int | None, what: str) -> QuoteError:
    """The program's error ``code`` as a :class:`QuoteError` (None: a panic, no code)."""
    name = ERRORS.get(code, "anchor") if code is not None else "panic"
    return QuoteError(f"{NAME}: {what} ({name} {code})", code)

# --- PoolState offsets (with the 8-byte discriminator) ---
OFF_LIQUIDITY = 237
OFF_SQRT_PRICE = 253
OFF_TICK_CURRENT = 269
OFF_FEE_GROWTH_0 = 277
OFF_FEE_GROWTH_1 = 293
OFF_PROTOCOL_FEES_0 = 309
OFF_PROTOCOL_FEES_1 = 317
OFF_STATUS = 389
OFF_REWARDS = 397
OFF_BITMAP = 904
OFF_FUND_FEES_0 = 1064
OFF_FUND_FEES_1 = 1072
OFF_DYNAMIC_FEE = 1096
REWARD_LEN = 169
# disc, bump, 7 keys, dec0, dec1, tick_spacing, liquidity(2Q), sqrt(2Q), tick, pad3, pad4,
# fee_growth 0/1 (4Q), protocol fees 0/1, padding5 (64), status, fee_on, padding(6)
_POOL_HEAD = struct.Struct("<8sB224sBBH2Q2QiHH4Q2Q64sBB6s")
assert _POOL_HEAD.size == OFF_REWARDS
_POOL_TAIL = struct.Struct("<2Q2Q")  # fund fees 0/1, open_time, recent_epoch @1064
_DYN = struct.Struct("<HHHIIiIIQ46s")
assert _DYN.size == 80
_REWARD = struct.Struct("<BQQQ2QQQ32s32s32s2Q")  # reward_growth_global_x64 is the last u128
assert _REWARD.size == REWARD_LEN
_CONFIG = struct.Struct("<8sBH32sIIHII32s24s")
assert _CONFIG.size == AMM_CONFIG_LEN
_TICK = struct.Struct("<iQQ2Q2Q2Q6QQQQ2Q12s")
assert _TICK.size == TICK_LEN
_TA_HEAD = struct.Struct("<8s32si")
_U64 = struct.Struct("<Q")
M128 = (1 << 128) - 1
M1024 = (1 << 1024) - 1
M512 = (1 << 512) - 1


def _u128(lo: int, hi: int) -> int:
    return lo | (hi << 64)


def _i128(lo: int, hi: int) -> int:
    v = lo | (hi << 64)
    return v - (1 << 128) if v >> 127 else v


def _split(v: int) -> tuple[int, int]:
    v &= M128
    return v & 0xFFFF_FFFF_FFFF_FFFF, v >> 64


@dataclass(slots=True, frozen=True)
class DynamicFeeInfo:
    """The pool's dynamic-fee parameters and state (all zero = disabled)."""

    filter_period: int = 0
    decay_period: int = 0
    reduction_factor: int = 0
    dynamic_fee_control: int = 0
    max_volatility_accumulator: int = 0
    tick_spacing_index_reference: int = 0
    volatility_reference: int = 0
    volatility_accumulator: int = 0
    last_update_timestamp: int = 0

    @property
    def enabled(self) -> bool:
        """The program treats an all-default record as "no dynamic fee"."""
        return any((self.filter_period, self.decay_period, self.reduction_factor,
                    self.dynamic_fee_control, self.max_volatility_accumulator,
                    self.tick_spacing_index_reference, self.volatility_reference,
                    self.volatility_accumulator, self.last_update_timestamp))  # fmt: skip


@dataclass(slots=True, frozen=True)
class ClmmPool:
    """Decoded ``PoolState``. ``mint_a``/``vault_a`` are token_0, ``_b`` token_1.
    ``tick_array_bitmap`` is the 1024-bit default bitmap as an int; ``reward_infos`` raw bytes."""

    address: Pubkey
    dex: str
    mint_a: Pubkey
    mint_b: Pubkey
    vault_a: Pubkey
    vault_b: Pubkey
    token_program_a: Pubkey
    token_program_b: Pubkey
    bump: int
    amm_config: Pubkey
    owner: Pubkey
    observation_key: Pubkey
    mint_decimals_a: int
    mint_decimals_b: int
    tick_spacing: int
    liquidity: int
    sqrt_price_x64: int
    tick_current: int
    fee_growth_global_0_x64: int
    fee_growth_global_1_x64: int
    protocol_fees_token_0: int
    protocol_fees_token_1: int
    status: int
    fee_on: int
    reward_infos: bytes
    tick_array_bitmap: int
    fund_fees_token_0: int
    fund_fees_token_1: int
    open_time: int
    recent_epoch: int
    dynamic_fee: DynamicFeeInfo


_new_pool = frozen_maker(ClmmPool)
_KEYS: dict[bytes, tuple[Pubkey, ...]] = {}
"""A pool's seven keys by their 224 account bytes (they do not change between its updates)."""
_DYNS: dict[bytes, DynamicFeeInfo] = {}
"""Decoded dynamic-fee records by their 80 bytes (all zero for most pools)."""
_CACHE_MAX = 1 << 14


def _pool_keys(raw: bytes) -> tuple[Pubkey, ...]:
    k = _KEYS.get(raw)
    if k is None:
        k = tuple(Pubkey.from_bytes(raw[i : i + 32]) for i in range(0, 224, 32))
        k = remember(_KEYS, raw, k, _CACHE_MAX)
    return k


def _dynamic_fee(data: bytes) -> DynamicFeeInfo:
    raw = bytes(data[OFF_DYNAMIC_FEE : OFF_DYNAMIC_FEE + _DYN.size])
    d = _DYNS.get(raw)
    if d is None:
        d = remember(_DYNS, raw, DynamicFeeInfo(*_DYN.unpack(raw)[:9]), _CACHE_MAX)
    return d


def decode_pool(address: Pubkey, data: bytes, token_program_a: Pubkey | None = None,
                token_program_b: Pubkey | None = None) -> ClmmPool:
    """Decode a 1544-byte ``PoolState``; :class:`DecodeError` on size or discriminator.

    The pool does not record its token programs; they default to SPL Token and are replaced by
    the adapter once the vault accounts (owned by the token program) are known. Decoded keys and
    dynamic-fee records are shared between decodes of equal bytes (immutable)."""
    if len(data) != POOL_LEN:
        raise DecodeError(f"{NAME} pool {address}: {len(data)} bytes, expected {POOL_LEN}")
    (disc, bump, keys, dec0, dec1, spacing, l_lo, l_hi, s_lo, s_hi, tick, _p3, _p4, f0_lo, f0_hi,
     f1_lo, f1_hi, prot0, prot1, _pad5, status, fee_on,
     _pad) = _POOL_HEAD.unpack_from(data)  # fmt: skip
    if disc != POOL_DISCRIMINATOR:
        raise DecodeError(f"{NAME} pool {address}: discriminator {disc.hex()} is not PoolState")
    if spacing == 0:
        raise DecodeError(f"{NAME} pool {address}: tick_spacing 0")
    k = _pool_keys(keys)
    fund0, fund1, open_time, epoch = _POOL_TAIL.unpack_from(data, OFF_FUND_FEES_0)
    return _new_pool(
        address, NAME, k[2], k[3], k[4], k[5], token_program_a or _TOKEN_PROGRAM_ID,
        token_program_b or _TOKEN_PROGRAM_ID, bump, k[0], k[1], k[6], dec0, dec1, spacing,
        l_lo | l_hi << 64, s_lo | s_hi << 64, tick, f0_lo | f0_hi << 64, f1_lo | f1_hi << 64,
        prot0, prot1, status, fee_on, bytes(data[OFF_REWARDS : OFF_REWARDS + 3 * REWARD_LEN]),
        int.from_bytes(data[OFF_BITMAP : OFF_BITMAP + 128], "little"), fund0, fund1, open_time,
        epoch, _dynamic_fee(data),
    )  # fmt: skip


def encode_pool(p: ClmmPool) -> bytes:
    """Serialize a ``PoolState`` (inverse of :func:`decode_pool`; padding zeroed)."""
    keys = b"".join(bytes(x) for x in (p.amm_config, p.owner, p.mint_a, p.mint_b, p.vault_a,
                                       p.vault_b, p.observation_key))  # fmt: skip
    buf = bytearray(POOL_LEN)
    _POOL_HEAD.pack_into(
        buf, 0, POOL_DISCRIMINATOR, p.bump, keys, p.mint_decimals_a, p.mint_decimals_b,
        p.tick_spacing, *_split(p.liquidity), *_split(p.sqrt_price_x64), p.tick_current, 0, 0,
        *_split(p.fee_growth_global_0_x64), *_split(p.fee_growth_global_1_x64),
        p.protocol_fees_token_0, p.protocol_fees_token_1, bytes(64), p.status, p.fee_on, bytes(6),
    )  # fmt: skip
    buf[OFF_REWARDS : OFF_REWARDS + 3 * REWARD_LEN] = p.reward_infos.ljust(3 * REWARD_LEN, b"\0")
    buf[OFF_BITMAP : OFF_BITMAP + 128] = p.tick_array_bitmap.to_bytes(128, "little")
    _POOL_TAIL.pack_into(buf, OFF_FUND_FEES_0, p.fund_fees_token_0, p.fund_fees_token_1,
                         p.open_time, p.recent_epoch)  # fmt: skip
    d = p.dynamic_fee
    _DYN.pack_into(buf, OFF_DYNAMIC_FEE, d.filter_period, d.decay_period, d.reduction_factor,
                   d.dynamic_fee_control, d.max_volatility_accumulator,
                   d.tick_spacing_index_reference, d.volatility_reference,
                   d.volatility_accumulator, d.last_update_timestamp, bytes(46))  # fmt: skip
    return bytes(buf)


def encode_dynamic_fee(d: DynamicFeeInfo) -> bytes:
    """The 80-byte ``DynamicFeeInfo`` record as stored in the pool."""
    return _DYN.pack(d.filter_period, d.decay_period, d.reduction_factor, d.dynamic_fee_control,
                     d.max_volatility_accumulator, d.tick_spacing_index_reference,
                     d.volatility_reference, d.volatility_accumulator, d.last_update_timestamp,
                     bytes(46))  # fmt: skip


def reward_growths(reward_infos: bytes) -> list[tuple[bool, int]]:
    """``(initialized, reward_growth_global_x64)`` for the pool's three reward slots."""
    out = []
    for i in range(3):
        f = _REWARD.unpack_from(reward_infos, i * REWARD_LEN)
        out.append((f[8] != bytes(32), _u128(f[11], f[12])))
    return out


@dataclass(slots=True, frozen=True)
class AmmConfig:
    """Decoded CLMM ``AmmConfig``; rates are parts per 1,000,000."""

    address: Pubkey
    bump: int
    index: int
    owner: Pubkey
    protocol_fee_rate: int
    trade_fee_rate: int
    tick_spacing: int
    fund_fee_rate: int
    fund_owner: Pubkey


def decode_amm_config(address: Pubkey, data: bytes) -> AmmConfig:
    """Decode a 117-byte ``AmmConfig``; :class:`DecodeError` on size or discriminator."""
    if len(data) != AMM_CONFIG_LEN:
        raise DecodeError(f"{NAME} config {address}: {len(data)} bytes, expected {AMM_CONFIG_LEN}")
    (disc, bump, index, owner, protocol, trade, spacing, fund, _p, fowner,
     _pad) = _CONFIG.unpack(data)  # fmt: skip
    if disc != AMM_CONFIG_DISCRIMINATOR:
        raise DecodeError(f"{NAME} config {address}: discriminator {disc.hex()} is not AmmConfig")
    return AmmConfig(address, bump, index, Pubkey.from_bytes(owner), protocol, trade, spacing, fund,
                     Pubkey.from_bytes(fowner))  # fmt: skip


def encode_amm_config(c: AmmConfig) -> bytes:
    """Serialize an ``AmmConfig`` (inverse of :func:`decode_amm_config`)."""
    return _CONFIG.pack(AMM_CONFIG_DISCRIMINATOR, c.bump, c.index, bytes(c.owner),
                        c.protocol_fee_rate, c.trade_fee_rate, c.tick_spacing, c.fund_fee_rate, 0,
                        bytes(c.fund_owner), bytes(24))  # fmt: skip


@dataclass(slots=True, frozen=True)
class TickState:
    """One tick of a tick array (fee/reward growth outside as Q64.64, limit-order fields)."""

    tick: int
    liquidity_net: int
    liquidity_gross: int
    fee_growth_outside_0_x64: int = 0
    fee_growth_outside_1_x64: int = 0
    reward_growths_outside_x64: tuple[int, int, int] = (0, 0, 0)
    order_phase: int = 0
    orders_amount: int = 0
    part_filled_orders_remaining: int = 0
    unfilled_ratio_x64: int = 0

    @property
    def has_limit_orders(self) -> bool:
        """Open limit orders sit on this tick."""
        return self.orders_amount > 0 or self.part_filled_orders_remaining > 0

    @property
    def initialized(self) -> bool:
        """The program's ``is_initialized``: liquidity or limit orders."""
        return self.liquidity_gross > 0 or self.has_limit_orders


def encode_tick(t: TickState) -> bytes:
    """The 168-byte ``TickState``."""
    r = t.reward_growths_outside_x64
    return _TICK.pack(t.tick, *_split(t.liquidity_net), *_split(t.liquidity_gross),
                      *_split(t.fee_growth_outside_0_x64), *_split(t.fee_growth_outside_1_x64),
                      *_split(r[0]), *_split(r[1]), *_split(r[2]), t.order_phase, t.orders_amount,
                      t.part_filled_orders_remaining, *_split(t.unfilled_ratio_x64),
                      bytes(12))  # fmt: skip


_new_tick = frozen_maker(TickState)


def _decode_tick(data: bytes, off: int) -> TickState:
    (tick, nl, nh, gl, gh, f0l, f0h, f1l, f1h, r0l, r0h, r1l, r1h, r2l, r2h, phase, orders, part,
     ul, uh, _pad) = _TICK.unpack_from(data, off)  # fmt: skip
    net = nl | nh << 64
    return _new_tick(tick, net - (1 << 128) if nh >> 63 else net, gl | gh << 64, f0l | f0h << 64,
                     f1l | f1h << 64, (r0l | r0h << 64, r1l | r1h << 64, r2l | r2h << 64), phase,
                     orders, part, ul | uh << 64)  # fmt: skip


# every tick's liquidity_gross (16 bytes @20), orders_amount (@124) and part_filled (@132)
_INIT_PROBE = struct.Struct("<44x" + "20x16s88xQQ28x" * TICK_ARRAY_SIZE)
_ZERO16 = bytes(16)


@dataclass(slots=True, frozen=True)
class TickArray:
    """Decoded ``TickArrayState``: the initialized ticks by offset (0..59) in the array."""

    address: Pubkey
    pool_id: Pubkey
    start_tick_index: int
    ticks: dict[int, TickState]
    initialized_tick_count: int


def decode_tick_array(address: Pubkey, data: bytes) -> TickArray:
    """Decode a 10240-byte ``TickArrayState`` (only initialized ticks are kept). ``data`` may be
    the market's compact form (:class:`~solarb.market.compact.SparseBytes`)."""
    if not isinstance(data, bytes):
        data = bytes(data)
    if len(data) != TICK_ARRAY_LEN:
        raise DecodeError(f"{NAME} tick array {address}: {len(data)} bytes, "
                          f"expected {TICK_ARRAY_LEN}")
    disc, pool_id, start = _TA_HEAD.unpack_from(data, 0)
    if disc != TICK_ARRAY_DISCRIMINATOR:
        raise DecodeError(f"{NAME} tick array {address}: discriminator {disc.hex()} "
                          "is not TickArrayState")
    ticks: dict[int, TickState] = {}
    probe = iter(_INIT_PROBE.unpack_from(data, 0))
    for i, (gross, orders, part) in enumerate(zip(probe, probe, probe)):
        if gross != _ZERO16 or orders or part:
            ticks[i] = _decode_tick(data, 44 + i * TICK_LEN)
    return TickArray(address, Pubkey.from_bytes(pool_id), start, ticks, data[44 + 60 * TICK_LEN])


def encode_tick_array(pool: Pubkey, start: int, ticks: dict[int, TickState],
                      recent_epoch: int = 0) -> bytes:
    """A ``TickArrayState`` with ``ticks`` (offset -> tick) set; others zero except their index.

    As on chain, an uninitialized slot holds only zeros (``tick`` is set when first used)."""
    buf = bytearray(TICK_ARRAY_LEN)
    _TA_HEAD.pack_into(buf, 0, TICK_ARRAY_DISCRIMINATOR, bytes(pool), start)
    for i, t in ticks.items():
        buf[44 + i * TICK_LEN : 44 + (i + 1) * TICK_LEN] = encode_tick(t)
    buf[44 + 60 * TICK_LEN] = sum(1 for t in ticks.values() if t.initialized)
    _U64.pack_into(buf, 44 + 60 * TICK_LEN + 1, recent_epoch)
    return bytes(buf)


@dataclass(slots=True, frozen=True)
class BitmapExtension:
    """``TickArrayBitmapExtension``: 14 positive and 14 negative 512-bit bitmaps (ints)."""

    address: Pubkey
    pool_id: Pubkey
    positive: tuple[int, ...]
    negative: tuple[int, ...]


def decode_extension(address: Pubkey, data: bytes) -> BitmapExtension:
    """Decode a 1832-byte ``TickArrayBitmapExtension``."""
    if len(data) != EXTENSION_LEN:
        raise DecodeError(f"{NAME} bitmap extension {address}: {len(data)} bytes, "
                          f"expected {EXTENSION_LEN}")
    if data[:8] != EXTENSION_DISCRIMINATOR:
        raise DecodeError(f"{NAME} bitmap extension {address}: bad discriminator {data[:8].hex()}")
    words = [int.from_bytes(data[40 + 64 * i : 104 + 64 * i], "little")
             for i in range(2 * EXT_BITMAPS)]
    pos, neg = tuple(words[:EXT_BITMAPS]), tuple(words[EXT_BITMAPS:])
    return BitmapExtension(address, Pubkey.from_bytes(data[8:40]), pos, neg)


def encode_extension(pool: Pubkey, positive: tuple[int, ...], negative: tuple[int, ...]) -> bytes:
    """Serialize a ``TickArrayBitmapExtension``."""
    body = b"".join(b.to_bytes(64, "little") for b in positive) + b"".join(
        b.to_bytes(64, "little") for b in negative
    )
    return EXTENSION_DISCRIMINATOR + bytes(pool) + body


# --- PDAs ---


@lru_cache(maxsize=65536)
def tick_array_address(pool: Pubkey, start_index: int) -> Pubkey:
    """``["tick_array", pool, start_index as i32 big-endian]``."""
    seed = start_index.to_bytes(4, "big", signed=True)
    return Pubkey.find_program_address([b"tick_array", bytes(pool), seed], PROGRAM_ID)[0]


@lru_cache(maxsize=4096)
def bitmap_extension_address(pool: Pubkey) -> Pubkey:
    """``["pool_tick_array_bitmap_extension", pool]``."""
    seeds = [b"pool_tick_array_bitmap_extension", bytes(pool)]
    return Pubkey.find_program_address(seeds, PROGRAM_ID)[0]


def amm_config_address(index: int) -> Pubkey:
    """``["amm_config", index as u16 big-endian]``."""
    return Pubkey.find_program_address([b"amm_config", index.to_bytes(2, "big")], PROGRAM_ID)[0]


def pool_address(config: Pubkey, mint_0: Pubkey, mint_1: Pubkey) -> tuple[Pubkey, int]:
    """``["pool", config, mint_0, mint_1]`` and its bump."""
    seeds = [b"pool", bytes(config), bytes(mint_0), bytes(mint_1)]
    return Pubkey.find_program_address(seeds, PROGRAM_ID)


def vault_address(pool: Pubkey, mint: Pubkey) -> Pubkey:
    """``["pool_vault", pool, mint]``."""
    return Pubkey.find_program_address([b"pool_vault", bytes(pool), bytes(mint)], PROGRAM_ID)[0]


def observation_address(pool: Pubkey) -> Pubkey:
    """``["observation", pool]``."""
    return Pubkey.find_program_address([b"observation", bytes(pool)], PROGRAM_ID)[0]
