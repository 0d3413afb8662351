"""The helpers the adapters share from ``solarb.dex.base``: the Clock reader, the loaded-account
getter and the bounded decode-cache store."""

from __future__ import annotations

import struct

import pytest
from solders.pubkey import Pubkey

from solarb.dex import base
from solarb.dex.base import MissingAccount, clock_fields, loaded, remember
from solarb.market.compact import compact


def test_clock_fields_reads_slot_epoch_and_time_once_per_data_object() -> None:
    data = struct.pack("<QqQQq", 9, -5, 700, 701, -1_000) + b"tail"
    assert clock_fields(None) is None
    assert clock_fields(data[:39]) is None  # too short
    c = clock_fields(data)
    assert c == (data, 9, 700, -1_000) and c[0] is data
    assert clock_fields(data) is c  # the same object: not unpacked again
    other = struct.pack("<QqQQq", 10, 0, 701, 0, 5)
    assert clock_fields(other) == (other, 10, 701, 5)
    assert clock_fields(data) == (data, 9, 700, -1_000)
    big = struct.pack("<QqQQq", 11, 0, 702, 0, 6) + bytes(4096)  # as the market may store it
    assert clock_fields(compact(big, None))[1:] == (11, 702, 6)  # type: ignore[index]
    assert clock_fields(None) is None and base._LAST_CLOCK[0] is not None


def test_loaded_names_the_dex_and_the_account() -> None:
    key = Pubkey.new_unique()
    assert loaded({key: b"x"}, key, "raydium_cpmm", "vault") == b"x"
    assert loaded({key: b""}, key, "raydium_cpmm", "vault") == b""  # exists, empty: loaded
    with pytest.raises(MissingAccount, match=f"^meteora_dlmm: bin array {key} not loaded$"):
        loaded({}, key, "meteora_dlmm", "bin array")


def test_remember_stores_and_clears_at_the_limit() -> None:
    cache: dict[bytes, int] = {}
    for i in range(3):
        assert remember(cache, bytes([i]), i, 3) == i
    assert cache == {b"\x00": 0, b"\x01": 1, b"\x02": 2}
    assert remember(cache, b"\x03", 3, 3) == 3
    assert cache == {b"\x03": 3}  # full: cleared first
