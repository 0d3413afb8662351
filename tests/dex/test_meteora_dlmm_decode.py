"""``decode_lb_pair`` (padding skipped, adjacent keys read as one field, the pair's keys reused
while their bytes stay) equals a field-by-field decode of the full layout, across versions of a
pair whose keys, bitmap and dynamic fields change, and keeps its errors."""

from __future__ import annotations

import random

import pytest
from solders.pubkey import Pubkey

from solarb.dex import meteora_dlmm_layout as lay
from solarb.dex.base import DecodeError


def _reference(address: Pubkey, data: bytes) -> dict[str, object]:
    """Every field from ``_LB_PAIR`` (the full layout, padding included) by its own offset."""
    f = lay._LB_PAIR.unpack(data)
    keys = [Pubkey.from_bytes(f[i]) for i in (30, 31, 32, 33, 38, 42, 43, 48)]
    programs = lay._TOKEN_PROGRAMS
    return {
        "address": address, "dex": "meteora_dlmm", "mint_a": keys[0], "mint_b": keys[1],
        "vault_a": keys[2], "vault_b": keys[3], "token_program_a": programs[f[49]],
        "token_program_b": programs[f[50]], "base_factor": f[1], "filter_period": f[2],
        "decay_period": f[3], "reduction_factor": f[4], "variable_fee_control": f[5],
        "max_volatility_accumulator": f[6], "min_bin_id": f[7], "max_bin_id": f[8],
        "protocol_share": f[9], "base_fee_power_factor": f[10], "function_type": f[11],
        "collect_fee_mode": f[12], "volatility_accumulator": f[14], "volatility_reference": f[15],
        "index_reference": f[16], "last_update_timestamp": f[18], "bump_seed": f[20],
        "bin_step_seed": f[21], "pair_type": f[22], "active_id": f[23], "bin_step": f[24],
        "status": f[25], "require_base_factor_seed": f[26], "base_factor_seed": f[27],
        "activation_type": f[28], "creator_pool_on_off_control": f[29], "protocol_fee_x": f[34],
        "protocol_fee_y": f[35], "reward_infos": f[37], "oracle": keys[4],
        "bin_array_bitmap": int.from_bytes(f[39], "little"), "last_updated_at": f[40],
        "pre_activation_swap_address": keys[5], "base_key": keys[6], "activation_point": f[44],
        "pre_activation_duration": f[45], "creator": keys[7], "token_mint_x_program_flag": f[49],
        "token_mint_y_program_flag": f[50], "version": f[51],
    }  # fmt: skip


def _fields(p: lay.LbPair) -> dict[str, object]:
    return {name: getattr(p, name) for name in lay.LbPair.__dataclass_fields__}


def test_decode_equals_the_full_layout_across_versions() -> None:
    rng = random.Random(9)
    for pair in range(20):
        address = Pubkey.from_bytes(bytes([pair + 1]) * 32)
        buf = bytearray(rng.randbytes(lay.LB_PAIR_LEN))
        buf[:8] = lay.LB_PAIR_DISCRIMINATOR
        for version in range(30):
            # a swap's fields move; now and then a key, the bitmap, padding or reserved bytes
            for off, size in ((40, 32), (76, 4), (216, 16)):
                buf[off : off + size] = rng.randbytes(size)
            if rng.random() < 0.3:
                off = rng.choice((88, 120, 152, 184, 552, 760, 792, 856, 584, 270, 60, 232, 728, 883))
                buf[off : off + 8] = rng.randbytes(8)
            buf[880], buf[881] = rng.randint(0, 1), rng.randint(0, 1)
            data = bytes(buf)
            got = lay.decode_lb_pair(address, data)
            assert _fields(got) == _reference(address, data), (pair, version)
            assert lay.decode_lb_pair(address, lay.encode_lb_pair(got)) == got
    # errors: size, discriminator, token program flags
    data = bytes(buf)
    with pytest.raises(DecodeError, match="bytes, expected"):
        lay.decode_lb_pair(address, data[:-1])
    with pytest.raises(DecodeError, match="is not LbPair"):
        lay.decode_lb_pair(address, bytes(8) + data[8:])
    with pytest.raises(DecodeError, match="token program flags"):
        lay.decode_lb_pair(address, data[:880] + b"\x02" + data[881:])


def test_bitmap_int_is_reused_while_its_bytes_stay() -> None:
    """The bin-array bitmap's int is made once per bitmap: versions that move only other fields
    share it; a new bitmap (alone, with a new key, or back to an earlier one) decodes to its own
    value, equal to the full layout's."""
    rng = random.Random(4)
    address = Pubkey.from_bytes(bytes([77]) * 32)
    buf = bytearray(rng.randbytes(lay.LB_PAIR_LEN))
    buf[:8] = lay.LB_PAIR_DISCRIMINATOR
    buf[880] = buf[881] = 0
    first = lay.decode_lb_pair(address, bytes(buf))
    buf[76:80] = rng.randbytes(4)  # active id only
    assert lay.decode_lb_pair(address, bytes(buf)).bin_array_bitmap is first.bin_array_bitmap
    old_bitmap = bytes(buf[584:712])
    for change_key in (False, True, False):
        buf[584 + rng.randrange(128)] ^= 1 << rng.randrange(8)
        if change_key:
            buf[88:96] = rng.randbytes(8)  # mint x
        got = lay.decode_lb_pair(address, bytes(buf))
        assert _fields(got) == _reference(address, bytes(buf))
        assert got.bin_array_bitmap != first.bin_array_bitmap
    buf[584:712] = old_bitmap
    got = lay.decode_lb_pair(address, bytes(buf))
    assert got.bin_array_bitmap == first.bin_array_bitmap
    assert _fields(got) == _reference(address, bytes(buf))
