"""SPL Token / Token-2022 helpers: token accounts and the (cached) TransferFeeConfig reader."""

from __future__ import annotations

import base64
import json
import random
import struct

import pytest
from solders.pubkey import Pubkey

from solarb.dex.base import DecodeError, MissingAccount
from solarb.dex.spl_token import (
    TransferFee,
    _transfer_fee_config,
    decode_token_account,
    encode_mint,
    encode_token_account,
    epoch_transfer_fee,
    token_account_amount,
    transfer_fee,
)
from tests.support.data import SHARED_DATA

BUNDLE = SHARED_DATA / "accounts/raydium_cpmm/wsol_pump_2higKRf2/cpmm_wsol_pump.json"
PUMP = "73edX6xoGY4v5y2hzuKdrUbJXLntqgmo74au1Ki1pump"  # Token-2022 mint, metadata extensions only


def _mint(*extensions: tuple[int, bytes]) -> bytes:
    """A Token-2022 mint: base mint padded to the account length, account type, then TLVs."""
    tlv = b"".join(struct.pack("<HH", t, len(v)) + v for t, v in extensions)
    return encode_mint(6) + bytes(165 - 82) + b"\x01" + tlv


def _fee_ext(older: tuple[int, int, int], newer: tuple[int, int, int]) -> tuple[int, bytes]:
    """Extension type 1: two authorities, withheld, then (epoch, maximum_fee, basis_points) x2."""
    return 1, struct.pack("<64sQQQHQQH", bytes(64), 0, *older, *newer)


def _reference(mint: bytes, epoch: int | None) -> TransferFee | None:
    """Token-2022 ``get_epoch_fee``, walked from scratch (no cache)."""
    pos = 166
    while pos + 4 <= len(mint):
        ext_type, length = struct.unpack_from("<HH", mint, pos)
        if ext_type == 0:
            break
        if ext_type == 1 and length >= 108:
            f = struct.unpack_from("<64sQQQHQQH", mint, pos + 4)
            (_o_epoch, o_max, o_bps), (n_epoch, n_max, n_bps) = f[2:5], f[5:8]
            if (o_max, o_bps) == (n_max, n_bps) or (epoch is not None and epoch >= n_epoch):
                return TransferFee(n_bps, n_max)
            if epoch is None:
                raise MissingAccount("needs the epoch")
            return TransferFee(o_bps, o_max)
        pos += 4 + length
    return None


def test_token_account_amount_and_decode() -> None:
    mint, owner = Pubkey.new_unique(), Pubkey.new_unique()
    data = encode_token_account(mint, owner, 123_456_789)
    assert token_account_amount(data) == 123_456_789 == decode_token_account(data).amount
    with pytest.raises(DecodeError):
        token_account_amount(data[:-1])


def test_transfer_fee_matches_a_fresh_walk_of_the_extensions() -> None:
    rng = random.Random(3)
    for _ in range(300):
        older = (rng.randrange(5), rng.randrange(10**7), rng.randrange(10_001))
        newer = (rng.randrange(10), rng.randrange(10**7), rng.randrange(10_001))
        if rng.random() < 0.2:
            newer = (newer[0], older[1], older[2])  # same fee both epochs
        exts = [(rng.choice((3, 18, 19)), bytes(rng.randrange(40)))
                for _ in range(rng.randrange(3))]
        exts.insert(rng.randrange(len(exts) + 1), _fee_ext(older, newer))
        mint = _mint(*exts)
        for epoch in (None, 0, 4, 9, 12):
            try:
                want = _reference(mint, epoch)
            except MissingAccount:
                with pytest.raises(MissingAccount):
                    epoch_transfer_fee(mint, epoch)
                continue
            assert epoch_transfer_fee(mint, epoch) == want
            amount = rng.randrange(1, 10**12)
            fee = 0 if want is None or want.basis_points == 0 else min(
                -(-amount * want.basis_points // 10_000), want.maximum_fee)
            assert transfer_fee(mint, amount, epoch) == fee


def test_mints_without_fee_config_and_changed_bytes() -> None:
    pump = base64.b64decode(json.loads(BUNDLE.read_text())["accounts"][PUMP]["data"])
    assert epoch_transfer_fee(pump, None) is None and transfer_fee(pump, 10**9, 3) == 0
    assert epoch_transfer_fee(encode_mint(6), 5) is None  # SPL Token mint: no extensions
    assert epoch_transfer_fee(None, 5) is None
    assert epoch_transfer_fee(_mint((0, b"")), 5) is None  # uninitialized TLV ends the walk
    first = _mint(_fee_ext((0, 100, 10), (0, 100, 10)))
    second = _mint(_fee_ext((0, 100, 10), (0, 900, 90)))  # the mint's fee was reconfigured
    assert epoch_transfer_fee(first, 1) == TransferFee(10, 100)
    assert epoch_transfer_fee(second, 1) == TransferFee(90, 900)
    assert epoch_transfer_fee(first, 1) == TransferFee(10, 100)


def test_fee_config_cache_is_bounded() -> None:
    _transfer_fee_config.cache_clear()
    for i in range(3000):
        epoch_transfer_fee(_mint(_fee_ext((0, i, 1), (0, i, 1))), 0)
    info = _transfer_fee_config.cache_info()
    assert info.currsize <= info.maxsize == 1024 and info.misses == 3000
    mint = _mint(_fee_ext((0, 7, 1), (0, 7, 1)))
    epoch_transfer_fee(mint, 0)
    epoch_transfer_fee(mint, 1)
    assert _transfer_fee_config.cache_info().hits >= 1
