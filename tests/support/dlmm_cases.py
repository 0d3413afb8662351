"""Pieces of random Meteora DLMM pairs shared by the differential tests (npm oracle, native
kernel): Token-2022 mints with a transfer fee, and limit orders patched into bin arrays."""

from __future__ import annotations

import random
import struct
from collections.abc import Callable

from solders.pubkey import Pubkey

from solarb.dex import meteora_dlmm_layout as lay
from solarb.dex.spl_token import encode_mint


def fee_mint(epoch_fees: tuple[int, int, int, int, int, int]) -> bytes:
    """A Token-2022 mint with a TransferFeeConfig (older/newer epoch, maximum, basis points)."""
    ext = struct.pack("<64sQQQHQQH", bytes(64), 0, *epoch_fees)
    return encode_mint(6) + bytes(165 - 82) + b"\x01" + struct.pack("<HH", 1, len(ext)) + ext


def add_limit_orders(aux: dict[Pubkey, bytes], rng: random.Random,
                     amount: Callable[[], int]) -> None:
    """Limit orders (open and processed amounts, either side) on about 30 % of the priced bins
    of every bin array in ``aux``, in place."""
    for key, data in list(aux.items()):
        if len(data) != lay.BIN_ARRAY_LEN:
            continue
        buf = bytearray(data)
        for i in range(70):
            off = lay.OFF_BINS + i * lay.BIN_LEN
            if buf[off + 16 : off + 32] != bytes(16) and rng.random() < 0.3:
                struct.pack_into("<Q", buf, off + 112, amount())
                struct.pack_into("<Q", buf, off + 128, rng.choice((0, amount())))
                buf[off + 140] = rng.randint(0, 1)
        aux[key] = bytes(buf)
