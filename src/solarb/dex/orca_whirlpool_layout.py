"""Orca Whirlpool account layouts, PDAs and tick-array addressing (program ``whirLbMi...``).

Layouts follow the program's state (orca-so/whirlpools, programs/whirlpool/src/state):

* ``Whirlpool`` (653 B, Anchor/borsh): config, bump, tick_spacing, fee_tier_index_seed, fee_rate
  (hundredths of a bp), protocol_fee_rate (bp of the fee), liquidity, sqrt_price,
  tick_current_index, protocol fees owed, mint/vault/fee_growth_global per side, reward
  timestamp, 3 reward infos;
* ``WhirlpoolsConfig`` (108 B); ``Oracle`` (254 B: adaptive-fee constants and variables);
* ``TickArray`` (fixed, 9,988 B: start, 88 x 113-byte ticks, whirlpool) and ``DynamicTickArray``
  (start, whirlpool, u128 bitmap, then 88 borsh enums: tag 0, or tag 1 + 112 bytes of tick data).

A pool uses adaptive fees when its ``fee_tier_index_seed`` differs from its tick spacing.
Also: the program's Token-2022 fee-excluded / fee-included amounts (the TransferFeeConfig itself is
read by ``solarb.dex.spl_token.epoch_transfer_fee``; ``calculate_transfer_fee_{excluded,included}_amount``).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from functools import lru_cache

from solders.pubkey import Pubkey

from solarb.dex.base import DecodeError, QuoteError, remember
from solarb.dex.spl_token import TOKEN_PROGRAM_ID, epoch_transfer_fee
from solarb.native.slots import frozen_maker

__all__ = [
    "CONFIG_LEN",
    "DYNAMIC_TICK_ARRAY_MIN_LEN",
    "FIXED_TICK_ARRAY_LEN",
    "ORACLE_LEN",
    "PROGRAM_ID",
    "TICK_ARRAY_SIZE",
    "WHIRLPOOL_LEN",
    "AdaptiveFeeConstants",
    "AdaptiveFeeVariables",
    "Oracle",
    "RewardInfo",
    "Tick",
    "TickArray",
    "Whirlpool",
    "WhirlpoolsConfig",
    "decode_config",
    "decode_oracle",
    "decode_tick_array",
    "decode_whirlpool",
    "epoch_transfer_fee",
    "encode_config",
    "encode_dynamic_tick_array",
    "encode_fixed_tick_array",
    "encode_oracle",
    "encode_whirlpool",
    "oracle_address",
    "swap_start_indexes",
    "tick_array_address",
    "tick_array_start_index",
    "tick_data_offset",
    "transfer_fee_excluded",
    "transfer_fee_included",
    "whirlpool_address",
]

PROGRAM_ID = Pubkey.from_string("whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc")
TICK_ARRAY_SIZE = 88
MIN_TICK = -443636
MAX_TICK = 443636


def _disc(name: str) -> bytes:
    return hashlib.sha256(f"account:{name}".encode()).digest()[:8]


WHIRLPOOL_DISCRIMINATOR = _disc("Whirlpool")
CONFIG_DISCRIMINATOR = _disc("WhirlpoolsConfig")
FIXED_TICK_ARRAY_DISCRIMINATOR = _disc("TickArray")
DYNAMIC_TICK_ARRAY_DISCRIMINATOR = _disc("DynamicTickArray")
ORACLE_DISCRIMINATOR = _disc("Oracle")

WHIRLPOOL_LEN = 653
CONFIG_LEN = 108
TICK_LEN = 113
TICK_DATA_LEN = 112
FIXED_TICK_ARRAY_LEN = 8 + 4 + TICK_ARRAY_SIZE * TICK_LEN + 32
DYNAMIC_HEADER_LEN = 8 + 4 + 32 + 16
DYNAMIC_TICK_ARRAY_MIN_LEN = DYNAMIC_HEADER_LEN + TICK_ARRAY_SIZE
ORACLE_LEN = 254

_U128 = (1 << 128) - 1
_I128_SIGN = 1 << 127
# disc, config, bump, tick_spacing, fee_tier_index_seed (u16 LE), fee_rate, protocol_fee_rate,
# liquidity (2 x u64), sqrt_price (2 x u64), tick_current, protocol_fee_owed a/b, mint_a, vault_a,
# fee_growth_global_a, mint_b, vault_b, fee_growth_global_b, reward_last_updated_timestamp.
_POOL = struct.Struct("<8s32sBHHHH2Q2Qi2Q32s32s2Q32s32s2QQ")
_REWARD = struct.Struct("<32s32s32s2Q2Q")
assert _POOL.size + 3 * _REWARD.size == WHIRLPOOL_LEN
_CONFIG = struct.Struct("<8s32s32s32sHH")
assert _CONFIG.size == CONFIG_LEN
_TICK = struct.Struct("<?2Q2Q2Q2Q2Q2Q2Q")  # initialized, net, gross, fee a, fee b, rewards x3
_TICK_DATA = struct.Struct("<2Q2Q2Q2Q2Q2Q2Q")
_AF_CONST = struct.Struct("<HHHIIHH16s")
_AF_VARS = struct.Struct("<QQIiI16s")
_ORACLE = struct.Struct("<8s32sQ")
assert _ORACLE.size + _AF_CONST.size + _AF_VARS.size + 128 == ORACLE_LEN
_START = struct.Struct("<i")
U64_MAX = (1 << 64) - 1


def _u128(lo: int, hi: int) -> int:
    return lo | hi << 64


def _i128(lo: int, hi: int) -> int:
    v = lo | hi << 64
    return v - (1 << 128) if v & _I128_SIGN else v


def _split(v: int) -> tuple[int, int]:
    v &= _U128
    return v & 0xFFFFFFFFFFFFFFFF, v >> 64


@dataclass(slots=True, frozen=True)
class RewardInfo:
    """One ``WhirlpoolRewardInfo``; ``extension`` is the 32-byte field formerly the authority."""

    mint: Pubkey
    vault: Pubkey
    extension: bytes
    emissions_per_second_x64: int
    growth_global_x64: int

    @property
    def initialized(self) -> bool:
        """A reward slot is in use when its mint is set."""
        return self.mint != Pubkey.default()


@dataclass(slots=True, frozen=True)
class Whirlpool:
    """Decoded ``Whirlpool``. ``token_program_*`` are not stored on chain: they default to SPL
    Token and must be supplied (mint owners) for Token-2022 mints."""

    address: Pubkey
    dex: str
    whirlpools_config: Pubkey
    bump: int
    tick_spacing: int
    fee_tier_index: int
    fee_rate: int
    protocol_fee_rate: int
    liquidity: int
    sqrt_price: int
    tick_current_index: int
    protocol_fee_owed_a: int
    protocol_fee_owed_b: int
    mint_a: Pubkey
    vault_a: Pubkey
    fee_growth_global_a: int
    mint_b: Pubkey
    vault_b: Pubkey
    fee_growth_global_b: int
    reward_last_updated_timestamp: int
    reward_infos: tuple[RewardInfo, RewardInfo, RewardInfo]
    token_program_a: Pubkey = TOKEN_PROGRAM_ID
    token_program_b: Pubkey = TOKEN_PROGRAM_ID

    @property
    def adaptive_fee(self) -> bool:
        """Initialized with an adaptive fee tier (``fee_tier_index != tick_spacing``)."""
        return self.fee_tier_index != self.tick_spacing


_new_whirlpool = frozen_maker(Whirlpool)
_new_reward = frozen_maker(RewardInfo)
_OFF_REWARDS = _POOL.size
_KEYS: dict[bytes, Pubkey] = {}
"""Pubkeys by their 32 bytes, as decoded pools name them (a pool's keys rarely change)."""
_REWARDS: dict[bytes, tuple[RewardInfo, RewardInfo, RewardInfo]] = {}
"""The three reward infos by their 384 account bytes (unchanged by most updates)."""
_CACHE_MAX = 1 << 15


def _key(raw: bytes) -> Pubkey:
    k = _KEYS.get(raw)
    return remember(_KEYS, raw, Pubkey(raw), _CACHE_MAX) if k is None else k


def _rewards(data: bytes) -> tuple[RewardInfo, RewardInfo, RewardInfo]:
    raw = bytes(data[_OFF_REWARDS:WHIRLPOOL_LEN])
    c = _REWARDS.get(raw)
    if c is not None:
        return c
    out = []
    for i in range(3):
        r = _REWARD.unpack_from(raw, i * _REWARD.size)
        out.append(_new_reward(_key(r[0]), _key(r[1]), r[2], r[3] | r[4] << 64, r[5] | r[6] << 64))
    return remember(_REWARDS, raw, (out[0], out[1], out[2]), _CACHE_MAX)


def decode_whirlpool(
    address: Pubkey,
    data: bytes,
    *,
    token_program_a: Pubkey = TOKEN_PROGRAM_ID,
    token_program_b: Pubkey = TOKEN_PROGRAM_ID,
    dex: str = "orca_whirlpool",
) -> Whirlpool:
    """Decode a ``Whirlpool`` account; :class:`DecodeError` on size/discriminator/values.
    Decoded keys and reward infos are shared between decodes of equal bytes (immutable)."""
    if len(data) != WHIRLPOOL_LEN:
        raise DecodeError(
            f"orca_whirlpool: pool {address} is {len(data)} bytes, expected {WHIRLPOOL_LEN}"
        )
    (disc, config, bump, spacing, tier, fee_rate, protocol_rate, l_lo, l_hi, p_lo, p_hi, tick,
     owed_a, owed_b, mint_a, vault_a, g_a_lo, g_a_hi, mint_b, vault_b, g_b_lo, g_b_hi,
     reward_ts) = _POOL.unpack_from(data, 0)  # fmt: skip
    if disc != WHIRLPOOL_DISCRIMINATOR:
        raise DecodeError(f"orca_whirlpool: {address} is not a Whirlpool account (discriminator)")
    if spacing == 0:
        raise DecodeError(f"orca_whirlpool: pool {address} has tick_spacing 0")
    if not MIN_TICK - 1 <= tick <= MAX_TICK:
        raise DecodeError(f"orca_whirlpool: pool {address} tick {tick} out of range")
    return _new_whirlpool(
        address, dex, _key(config), bump, spacing, tier, fee_rate, protocol_rate,
        l_lo | l_hi << 64, p_lo | p_hi << 64, tick, owed_a, owed_b, _key(mint_a), _key(vault_a),
        g_a_lo | g_a_hi << 64, _key(mint_b), _key(vault_b), g_b_lo | g_b_hi << 64, reward_ts,
        _rewards(data), token_program_a, token_program_b,
    )  # fmt: skip


def encode_whirlpool(p: Whirlpool) -> bytes:
    """The 653 account bytes of ``p`` (inverse of :func:`decode_whirlpool`)."""
    head = _POOL.pack(
        WHIRLPOOL_DISCRIMINATOR, bytes(p.whirlpools_config), p.bump, p.tick_spacing,
        p.fee_tier_index, p.fee_rate, p.protocol_fee_rate, *_split(p.liquidity),
        *_split(p.sqrt_price),
        p.tick_current_index, p.protocol_fee_owed_a, p.protocol_fee_owed_b, bytes(p.mint_a),
        bytes(p.vault_a), *_split(p.fee_growth_global_a), bytes(p.mint_b), bytes(p.vault_b),
        *_split(p.fee_growth_global_b), p.reward_last_updated_timestamp,
    )  # fmt: skip
    rewards = b"".join(
        _REWARD.pack(bytes(r.mint), bytes(r.vault), r.extension,
                     *_split(r.emissions_per_second_x64), *_split(r.growth_global_x64))
        for r in p.reward_infos
    )  # fmt: skip
    return head + rewards


@dataclass(slots=True, frozen=True)
class WhirlpoolsConfig:
    """Decoded ``WhirlpoolsConfig``."""

    address: Pubkey
    fee_authority: Pubkey
    collect_protocol_fees_authority: Pubkey
    reward_emissions_super_authority: Pubkey
    default_protocol_fee_rate: int
    feature_flags: int


def decode_config(address: Pubkey, data: bytes) -> WhirlpoolsConfig:
    """Decode a ``WhirlpoolsConfig`` (108 bytes)."""
    if len(data) != CONFIG_LEN or data[:8] != CONFIG_DISCRIMINATOR:
        raise DecodeError(f"orca_whirlpool: {address} is not a WhirlpoolsConfig")
    f = _CONFIG.unpack(data)
    return WhirlpoolsConfig(address, Pubkey(f[1]), Pubkey(f[2]), Pubkey(f[3]), f[4], f[5])


def encode_config(c: WhirlpoolsConfig) -> bytes:
    """The account bytes of ``c``."""
    return _CONFIG.pack(
        CONFIG_DISCRIMINATOR, bytes(c.fee_authority), bytes(c.collect_protocol_fees_authority),
        bytes(c.reward_emissions_super_authority), c.default_protocol_fee_rate, c.feature_flags,
    )  # fmt: skip


@dataclass(slots=True, frozen=True)
class Tick:
    """One initialized tick (uninitialized ticks are not materialized)."""

    liquidity_net: int
    liquidity_gross: int
    fee_growth_outside_a: int = 0
    fee_growth_outside_b: int = 0
    reward_growths_outside: tuple[int, int, int] = (0, 0, 0)


@dataclass(slots=True, frozen=True)
class TickArray:
    """A decoded tick array: ``ticks`` maps offset (0..87) -> initialized :class:`Tick`;
    ``offsets`` is the sorted tuple of those offsets."""

    start_tick_index: int
    whirlpool: Pubkey
    dynamic: bool
    ticks: dict[int, Tick]
    offsets: tuple[int, ...]


def _tick_from(fields: tuple[int, ...]) -> Tick:
    f = fields
    return Tick(
        _i128(f[0], f[1]), _u128(f[2], f[3]), _u128(f[4], f[5]), _u128(f[6], f[7]),
        (_u128(f[8], f[9]), _u128(f[10], f[11]), _u128(f[12], f[13])),
    )  # fmt: skip


@lru_cache(maxsize=4096)
def decode_tick_array(data: bytes) -> TickArray:
    """Decode a fixed or dynamic tick array (cached by content); :class:`DecodeError` on bad
    bytes. ``data`` may be the market's compact form (:class:`~solarb.market.compact.SparseBytes`)."""
    if not isinstance(data, bytes):
        data = bytes(data)
    disc = data[:8]
    ticks: dict[int, Tick] = {}
    if disc == FIXED_TICK_ARRAY_DISCRIMINATOR:
        if len(data) != FIXED_TICK_ARRAY_LEN:
            raise DecodeError(f"orca_whirlpool: fixed tick array is {len(data)} bytes")
        start = _START.unpack_from(data, 8)[0]
        for i in range(TICK_ARRAY_SIZE):
            pos = 12 + i * TICK_LEN
            if data[pos]:
                ticks[i] = _tick_from(_TICK.unpack_from(data, pos)[1:])
        return TickArray(start, Pubkey(data[-32:]), False, ticks, tuple(ticks))
    if disc == DYNAMIC_TICK_ARRAY_DISCRIMINATOR:
        if len(data) < DYNAMIC_TICK_ARRAY_MIN_LEN:
            raise DecodeError(f"orca_whirlpool: dynamic tick array is {len(data)} bytes")
        start = _START.unpack_from(data, 8)[0]
        pos = DYNAMIC_HEADER_LEN
        for i in range(TICK_ARRAY_SIZE):
            tag = data[pos] if pos < len(data) else 255
            if tag == 1 and pos + 1 + TICK_DATA_LEN <= len(data):
                ticks[i] = _tick_from(_TICK_DATA.unpack_from(data, pos + 1))
                pos += 1 + TICK_DATA_LEN
            elif tag == 0:
                pos += 1
            else:
                raise DecodeError(f"orca_whirlpool: dynamic tick array tick {i}: bad tag {tag}")
        return TickArray(start, Pubkey(data[12:44]), True, ticks, tuple(ticks))
    raise DecodeError("orca_whirlpool: not a tick array (discriminator)")


def tick_data_offset(data: bytes, offset: int) -> int:
    """Byte position of tick ``offset``'s ``liquidity_net`` field inside tick-array ``data``."""
    if data[:8] == FIXED_TICK_ARRAY_DISCRIMINATOR:
        return 12 + offset * TICK_LEN + 1
    pos = DYNAMIC_HEADER_LEN
    for _ in range(offset):
        pos += 1 + TICK_DATA_LEN if data[pos] == 1 else 1
    return pos + 1


def _pack_tick(t: Tick) -> bytes:
    r = t.reward_growths_outside
    return _TICK_DATA.pack(
        *_split(t.liquidity_net), *_split(t.liquidity_gross), *_split(t.fee_growth_outside_a),
        *_split(t.fee_growth_outside_b), *_split(r[0]), *_split(r[1]), *_split(r[2]),
    )  # fmt: skip


def encode_fixed_tick_array(
    start_tick_index: int, whirlpool: Pubkey, ticks: dict[int, Tick]
) -> bytes:
    """A fixed ``TickArray`` account holding ``ticks`` (offset -> tick) as initialized."""
    out = bytearray(FIXED_TICK_ARRAY_LEN)
    out[:8] = FIXED_TICK_ARRAY_DISCRIMINATOR
    _START.pack_into(out, 8, start_tick_index)
    for i, t in ticks.items():
        pos = 12 + i * TICK_LEN
        out[pos] = 1
        out[pos + 1 : pos + TICK_LEN] = _pack_tick(t)
    out[-32:] = bytes(whirlpool)
    return bytes(out)


def encode_dynamic_tick_array(
    start_tick_index: int, whirlpool: Pubkey, ticks: dict[int, Tick]
) -> bytes:
    """A ``DynamicTickArray`` account holding ``ticks`` (bitmap set for each)."""
    bitmap = sum(1 << i for i in ticks)
    body = bytearray()
    for i in range(TICK_ARRAY_SIZE):
        t = ticks.get(i)
        body += b"\x00" if t is None else b"\x01" + _pack_tick(t)
    head = DYNAMIC_TICK_ARRAY_DISCRIMINATOR + _START.pack(start_tick_index) + bytes(whirlpool)
    return head + bitmap.to_bytes(16, "little") + bytes(body)


@dataclass(slots=True, frozen=True)
class AdaptiveFeeConstants:
    """``AdaptiveFeeConstants`` of an oracle."""

    filter_period: int
    decay_period: int
    reduction_factor: int
    adaptive_fee_control_factor: int
    max_volatility_accumulator: int
    tick_group_size: int
    major_swap_threshold_ticks: int


@dataclass(slots=True, frozen=True)
class AdaptiveFeeVariables:
    """``AdaptiveFeeVariables`` of an oracle (what a swap updates)."""

    last_reference_update_timestamp: int
    last_major_swap_timestamp: int
    volatility_reference: int
    tick_group_index_reference: int
    volatility_accumulator: int


@dataclass(slots=True, frozen=True)
class Oracle:
    """Decoded ``Oracle`` (adaptive-fee state of one pool)."""

    whirlpool: Pubkey
    trade_enable_timestamp: int
    constants: AdaptiveFeeConstants
    variables: AdaptiveFeeVariables


_OFF_CONST = _ORACLE.size
OFF_ORACLE_VARIABLES = _OFF_CONST + _AF_CONST.size


def decode_oracle(data: bytes) -> Oracle:
    """Decode an ``Oracle`` account (254 bytes)."""
    if len(data) != ORACLE_LEN or data[:8] != ORACLE_DISCRIMINATOR:
        raise DecodeError("orca_whirlpool: not an Oracle account")
    _, wp, enable = _ORACLE.unpack_from(data, 0)
    c = _AF_CONST.unpack_from(data, _OFF_CONST)
    v = _AF_VARS.unpack_from(data, OFF_ORACLE_VARIABLES)
    return Oracle(Pubkey(wp), enable, AdaptiveFeeConstants(*c[:7]), AdaptiveFeeVariables(*v[:5]))


def encode_oracle_variables(v: AdaptiveFeeVariables) -> bytes:
    """The 44 bytes of ``v`` (written at ``OFF_ORACLE_VARIABLES``)."""
    return _AF_VARS.pack(
        v.last_reference_update_timestamp, v.last_major_swap_timestamp, v.volatility_reference,
        v.tick_group_index_reference, v.volatility_accumulator, bytes(16),
    )  # fmt: skip


def encode_oracle(o: Oracle) -> bytes:
    """The account bytes of ``o``."""
    c = o.constants
    consts = _AF_CONST.pack(
        c.filter_period, c.decay_period, c.reduction_factor, c.adaptive_fee_control_factor,
        c.max_volatility_accumulator, c.tick_group_size, c.major_swap_threshold_ticks, bytes(16),
    )  # fmt: skip
    head = _ORACLE.pack(ORACLE_DISCRIMINATOR, bytes(o.whirlpool), o.trade_enable_timestamp)
    return head + consts + encode_oracle_variables(o.variables) + bytes(128)


@lru_cache(maxsize=1 << 14)
def tick_array_address(whirlpool: Pubkey, start_tick_index: int) -> Pubkey:
    """Tick-array PDA: seeds ``["tick_array", whirlpool, str(start_tick_index)]``."""
    seeds = [b"tick_array", bytes(whirlpool), str(start_tick_index).encode()]
    return Pubkey.find_program_address(seeds, PROGRAM_ID)[0]


@lru_cache(maxsize=4096)
def oracle_address(whirlpool: Pubkey) -> Pubkey:
    """Oracle PDA: seeds ``["oracle", whirlpool]``."""
    return Pubkey.find_program_address([b"oracle", bytes(whirlpool)], PROGRAM_ID)[0]


def whirlpool_address(
    config: Pubkey, mint_a: Pubkey, mint_b: Pubkey, fee_tier_index: int
) -> tuple[Pubkey, int]:
    """Whirlpool PDA and bump: ``["whirlpool", config, mint_a, mint_b, fee_tier_index u16 LE]``."""
    tier = fee_tier_index.to_bytes(2, "little")
    seeds = [b"whirlpool", bytes(config), bytes(mint_a), bytes(mint_b), tier]
    return Pubkey.find_program_address(seeds, PROGRAM_ID)


def tick_array_start_index(tick_index: int, tick_spacing: int) -> int:
    """Start tick of the array holding ``tick_index`` (floor to a multiple of 88 * spacing)."""
    span = TICK_ARRAY_SIZE * tick_spacing
    return tick_index // span * span


def _valid_start(start: int, tick_spacing: int) -> bool:
    span = TICK_ARRAY_SIZE * tick_spacing
    if not MIN_TICK <= start <= MAX_TICK:
        return start < MIN_TICK and start == MIN_TICK // span * span
    return start % span == 0


def swap_start_indexes(tick_current_index: int, tick_spacing: int, a_to_b: bool) -> list[int]:
    """Start ticks of the (up to 3) tick arrays the program's swap uses, in traversal order:
    a->b the current array and two below; b->a the current and two above, or the next three when
    ``tick_current + spacing`` already lies in the next array ("shifted")."""
    span = TICK_ARRAY_SIZE * tick_spacing
    base = tick_current_index // span * span
    if a_to_b:
        offsets: tuple[int, ...] = (0, -1, -2)
    elif tick_current_index + tick_spacing >= base + span:
        offsets = (1, 2, 3)
    else:
        offsets = (0, 1, 2)
    return [base + o * span for o in offsets if _valid_start(base + o * span, tick_spacing)]


def _fee_of(fee: tuple[int, int], amount: int) -> int:
    bps, max_fee = fee
    if bps == 0 or amount == 0:
        return 0
    return min(-(-amount * bps // 10_000), max_fee)


def transfer_fee_excluded(fee: tuple[int, int] | None, amount: int) -> int:
    """What arrives after a transfer of ``amount`` (``calculate_transfer_fee_excluded_amount``)."""
    return amount if fee is None else amount - _fee_of(fee, amount)


def transfer_fee_included(fee: tuple[int, int] | None, amount: int) -> int:
    """What must be sent so that ``amount`` arrives (``calculate_transfer_fee_included_amount``,
    with the program's verification; ``TransferFeeCalculationError`` 6052 otherwise)."""
    if fee is None or amount == 0:
        return amount
    bps, max_fee = fee
    if bps == 0:
        t = 0
    elif bps == 10_000:
        t = max_fee
    else:
        raw = -(-amount * 10_000 // (10_000 - bps))
        pre = amount + max_fee if raw - amount >= max_fee else raw
        t = _fee_of(fee, pre)
    total = amount + t
    if total > U64_MAX or _fee_of(fee, total) != t:
        raise QuoteError("orca_whirlpool: TransferFeeCalculationError", 6052)
    return total
