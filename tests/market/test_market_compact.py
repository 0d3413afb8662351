"""Compact storage of mostly-zero accounts: SparseBytes behaves like the bytes it came from, and
quotes through the market (which keeps tick/bin arrays compact) equal the adapters' quotes on the
raw bytes, on the real mainnet accounts in shared/data."""

from __future__ import annotations

import base64
import random
import struct
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from solders.pubkey import Pubkey

from solarb.dex import meteora_dlmm_layout, orca_whirlpool_layout, raydium_clmm_layout
from solarb.dex.base import DexError
from solarb.dex.quote_cases import parse_accounts
from solarb.dex.registry import ADAPTERS
from solarb.dex.spl_token import SYSTEM_PROGRAM_ID, TOKEN_PROGRAM_ID, encode_mint
from solarb.errors import UsageError
from solarb.events import AccountUpdate
from solarb.market.compact import COMPACT_MIN_LEN, SparseBytes, _Layout, compact, compact_update
from solarb.market.state import CLOCK_SYSVAR, MarketState
from solarb.sim.programs import meteora_dlmm as dlmm_model
from solarb.sim.programs import orca_whirlpool as whirlpool_model
from solarb.sim.programs import raydium_clmm as clmm_model
from tests.support.data import SHARED_DATA

SYSVAR_OWNER = Pubkey.from_string("Sysvar1111111111111111111111111111111111111")
USER = Pubkey.from_bytes(bytes([9]) * 32)
CL_DIRS = ("orca_whirlpool", "raydium_clmm", "meteora_dlmm")


def _real_accounts() -> dict[Pubkey, tuple[Pubkey, bytes]]:
    out: dict[Pubkey, tuple[Pubkey, bytes]] = {}
    for name in CL_DIRS:
        for path in sorted((SHARED_DATA / "accounts" / name).rglob("*.json")):
            doc = orjson.loads(Path(path).read_bytes())
            if isinstance(doc, dict) and isinstance(doc.get("accounts"), dict):  # a slot snapshot
                for key, acc in doc["accounts"].items():
                    out[Pubkey.from_string(key)] = (
                        Pubkey.from_string(acc["owner"]), base64.b64decode(acc["data"]))
                continue
            try:
                out.update(parse_accounts(doc, source=str(path)))
            except UsageError:  # other JSON shapes (decoder fixtures) are not accounts
                continue
    return out


ACCOUNTS = _real_accounts()
CLOCK = struct.pack("<QqQQq", 300_000_000, 1_700_000_000, 700, 701, 1_700_000_400)


def _big_accounts() -> list[bytes]:
    return [d for _, d in ACCOUNTS.values() if len(d) >= COMPACT_MIN_LEN]


def test_real_arrays_compact_and_behave_like_bytes() -> None:
    big = _big_accounts()
    assert len(big) >= 10
    compacted = 0
    rng = random.Random(5)
    for data in big:
        c = compact(data)
        assert c == data and data == c
        assert (c != data) is False
        assert hash(c) == hash(data) and len(c) == len(data) and bool(c)
        assert {c: 1}[data] == 1 and {data: 1}[c] == 1
        if not isinstance(c, SparseBytes):
            continue
        compacted += 1
        assert bytes(c) == data and c.stored_bytes() * 2 <= len(data)
        assert c[:8] == data[:8] and c[-32:] == data[-32:] and c[::7] == data[::7]
        for _ in range(50):
            a, b = rng.randrange(-len(data), len(data)), rng.randrange(-len(data), len(data))
            assert c[a:b] == data[a:b]
            assert c[a] == data[a]
        other = bytearray(data)
        other[rng.randrange(len(data))] ^= 0x40
        assert c != bytes(other) and compact(bytes(other)) != c
    assert compacted >= 5  # real tick/bin arrays are mostly zero


def test_compact_leaves_small_and_dense_data_alone() -> None:
    small = bytes(COMPACT_MIN_LEN - 1)
    assert compact(small) is small
    dense = bytes(range(1, 256)) * 40
    assert compact(dense) is dense
    assert isinstance(compact(bytes(10_240)), SparseBytes)
    with pytest.raises(IndexError):
        compact(bytes(10_240))[10_240]


def _pools() -> list[Pubkey]:
    out = []
    for key, (owner, data) in ACCOUNTS.items():
        adapter = ADAPTERS.get(owner)
        if adapter is None:
            continue
        try:
            adapter.decode_pool(key, data)
        except DexError:
            continue
        out.append(key)
    return out


def _load(pool: Pubkey, accounts: dict[Pubkey, tuple[Pubkey, bytes]] = ACCOUNTS,
          *, absent_empty: bool = False) -> MarketState:
    """The pool and its aux accounts found in ``accounts`` (others: not loaded, or with
    ``absent_empty`` not existing, as node loads them)."""
    market = MarketState(ADAPTERS)
    owner, data = accounts[pool]
    market.add_pool(AccountUpdate(pool, 10, data, owner, 1))
    market.apply(AccountUpdate(CLOCK_SYSVAR, 10, CLOCK, SYSVAR_OWNER, 1))
    for key in market.watched_accounts():
        if key in accounts and key != pool:
            owner, data = accounts[key]
            market.apply(AccountUpdate(key, 10, data, owner, 1))
        elif absent_empty and key not in (pool, CLOCK_SYSVAR):
            market.apply(AccountUpdate(key, 10, b"", SYSTEM_PROGRAM_ID, 0))
    return market


def _outcome(fn: object, *args: object) -> str:
    try:
        return repr(fn(*args))  # type: ignore[operator]
    except DexError as exc:
        return f"{type(exc).__name__}: {exc}"


def _cases() -> list[tuple[str, MarketState, Pubkey]]:
    """(label, loaded market, pool): the real mainnet pools, then one model pool per CL DEX."""
    out = [(f"real {p}", _load(p), p) for p in _pools()]
    out += [(f"model {p}", _load(p, accounts, absent_empty=True), p)
            for p, accounts in _model_pools()]
    return out


def _outcomes() -> dict[str, list[str]]:
    """Quotes (5 amounts), spot rates and swap instructions per case and direction, as text."""
    out: dict[str, list[str]] = {}
    for label, market, pool in _cases():
        entry = market.pool(pool)
        rows = out[label] = []
        for a_to_b in (True, False):
            rows += [_outcome(market.quote, pool, amount, a_to_b)
                     for amount in (1, 10**3, 10**6, 10**9, 10**11)]
            rows.append(_outcome(entry.adapter.spot_rate, entry.state, entry.aux, a_to_b))
            rows.append(_outcome(lambda d=a_to_b, e=entry: e.adapter.swap_instruction(
                e.state, USER, 10**6, 0, d, aux=e.aux)))
    return out


def test_quotes_on_compact_arrays_equal_quotes_on_raw_bytes() -> None:
    """Every outcome with compact arrays equals the outcome in a fresh interpreter whose market
    keeps plain bytes (no decode cache shared between the two)."""
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-m", "tests.market.test_market_compact", "--raw"],
                          cwd=root, capture_output=True, check=True, timeout=60)
    want = orjson.loads(done.stdout)
    got = _outcomes()
    assert got.keys() == want.keys()
    for label in got:
        assert got[label] == want[label], label
    rows = [r for v in got.values() for r in v]
    assert sum(r.startswith("Quote(") for r in rows) >= 30
    stored_compact = {market.pool(pool).adapter.NAME for _, market, pool in _cases()
                      if any(isinstance(v, SparseBytes) for v in market.pool(pool).aux.values())}
    assert stored_compact == {"orca_whirlpool", "raydium_clmm", "meteora_dlmm"}


def test_layout_decoders_read_compact_arrays_as_bytes() -> None:
    seen = 0
    for _, market, pool in _cases():
        for key, value in market.pool(pool).aux.items():
            if not isinstance(value, SparseBytes):
                continue
            raw = bytes(value)
            seen += 1
            if raw[:8] == orca_whirlpool_layout.FIXED_TICK_ARRAY_DISCRIMINATOR:
                decode = orca_whirlpool_layout.decode_tick_array.__wrapped__
                assert decode(value) == decode(raw)
            elif raw[:8] == raydium_clmm_layout.TICK_ARRAY_DISCRIMINATOR:
                assert raydium_clmm_layout.decode_tick_array(key, value) == (
                    raydium_clmm_layout.decode_tick_array(key, raw))
            elif raw[:8] == meteora_dlmm_layout.BIN_ARRAY_DISCRIMINATOR:
                assert meteora_dlmm_layout.decode_bin_array(key, value) == (
                    meteora_dlmm_layout.decode_bin_array(key, raw))
                for i in range(70):
                    off = meteora_dlmm_layout.OFF_BINS + i * meteora_dlmm_layout.BIN_LEN
                    assert meteora_dlmm_layout.decode_bin(value, off) == (
                        meteora_dlmm_layout.decode_bin(raw, off))
    assert seen >= 5


def test_same_bytes_update_keeps_the_one_stored_object() -> None:
    pool = next(p for p in _pools() if any(
        isinstance(v, SparseBytes) for v in _load(p).pool(p).aux.values()))
    market = _load(pool)
    entry = market.pool(pool)
    key, stored = next((k, v) for k, v in entry.aux.items() if isinstance(v, SparseBytes))
    owner, data = ACCOUNTS[key]
    assert market.apply(AccountUpdate(key, 11, bytes(data), owner, 1)) == ()
    assert entry.aux[key] is stored and market.slot_of(key) == 11
    changed = bytearray(data)
    changed[-100] ^= 1
    assert market.apply(AccountUpdate(key, 12, bytes(changed), owner, 1)) == (pool,)
    assert entry.aux[key] == bytes(changed) and entry.aux[key] is not stored


def _model_pools() -> list[tuple[Pubkey, dict[Pubkey, tuple[Pubkey, bytes]]]]:
    """One pool per concentrated-liquidity DEX from the program models' factories (real layouts;
    liquidity in a few ticks/bins, as most arrays are)."""
    a, b = Pubkey.from_bytes(bytes([3]) * 32), Pubkey.from_bytes(bytes([200]) * 32)
    made = [
        whirlpool_model.create_pool(
            mint_a=a, mint_b=b, tick_spacing=64, fee_rate=3000, price=1, decimals_a=6,
            decimals_b=6, positions=[(-6400, 6400, 10**12), (-640, 640, 4 * 10**12)]),
        clmm_model.create_pool(
            mint_a=a, mint_b=b, tick_spacing=10, trade_fee_rate=2500, decimals_a=6, decimals_b=6,
            positions=[(-1000, 1000, 10**12), (-200, 200, 3 * 10**12)], sqrt_price_x64=1 << 64),
        dlmm_model.create_pool(
            mint_x=a, mint_y=b, bin_step=10, base_factor=5_000, active_id=0,
            bins={j: (0 if j < 0 else 10**9, 0 if j > 0 else 10**9) for j in range(-80, 81, 8)}),
    ]
    mints = {m: (TOKEN_PROGRAM_ID, encode_mint(6, 10**18)) for m in (a, b)}
    return [(pool, {**mints, **{k: (acc.owner, acc.data) for k, acc in accounts.items()}})
            for pool, accounts in made]


if __name__ == "__main__" and sys.argv[1:] == ["--raw"]:  # the reference: plain bytes only
    import solarb.market.state as _state

    _state.compact_update = lambda data, previous: (  # type: ignore[assignment]
        (previous, True) if previous is not None and previous == data else (data, False))
    sys.stdout.buffer.write(orjson.dumps(_outcomes()))


def test_new_version_reuses_the_previous_layout_when_it_still_fits() -> None:
    data = next(d for d in _big_accounts() if isinstance(compact(d), SparseBytes))
    previous = compact(data)
    assert isinstance(previous, SparseBytes)
    first_run_byte = next(i for i, b in enumerate(data) if b)
    inside = bytearray(data)
    inside[first_run_byte] ^= 0x11  # a byte inside a stored run
    assert bytes(previous) == data  # materialised through the layout's cached Structs
    new = compact(bytes(inside), previous)
    assert isinstance(new, SparseBytes) and new._index is previous._index
    assert new._packers is previous._packers and bytes(new) == bytes(inside)  # shared layout
    assert new == bytes(inside) and new == compact(bytes(inside)) and new != previous
    outside = bytearray(data)
    outside[next(i for i in range(len(data)) if not any(data[max(0, i - 40) : i + 40]))] = 1
    fresh = compact(bytes(outside), previous)
    assert fresh == bytes(outside) and bytes(fresh) == bytes(outside)
    assert not isinstance(fresh, SparseBytes) or fresh._index is not previous._index


def test_compact_update_decides_equality_in_one_pass() -> None:
    data = next(d for d in _big_accounts() if isinstance(compact(d), SparseBytes))
    stored = compact(data)
    assert isinstance(stored, SparseBytes)
    same, is_same = compact_update(bytes(data), stored)
    assert is_same and same is stored
    first_run_byte = next(i for i, b in enumerate(data) if b)
    for index in (first_run_byte, next(i for i in range(len(data))
                                       if not any(data[max(0, i - 40) : i + 40]))):
        changed = bytearray(data)
        changed[index] ^= 0x11
        new, is_same = compact_update(bytes(changed), stored)
        assert not is_same and new == bytes(changed) and bytes(new) == bytes(changed)
        assert new != stored
    new, is_same = compact_update(data + bytes(64), stored)  # other length
    assert not is_same and new == data + bytes(64)
    plain, is_same = compact_update(bytes(data), data)  # stored plain (raw reference, say)
    assert is_same and plain is data
    fresh, is_same = compact_update(data, None)
    assert not is_same and isinstance(fresh, SparseBytes) and fresh == data
    dense = bytes(range(256)) * 16
    assert compact_update(dense, None) == (dense, False)
    assert compact_update(dense, bytes(dense))[1]


def test_relayout_checks_every_gap_byte_and_builds_the_layout_once() -> None:
    data = bytearray(4096)
    for start in (0, 300, 1000, 4000):  # runs at both ends, gaps of every size in between
        data[start : start + 40] = bytes(range(1, 41))
    stored = compact(bytes(data))
    assert isinstance(stored, SparseBytes) and stored._packers is None  # no Struct yet
    changed = bytearray(data)
    changed[0] ^= 0x80
    first, _ = compact_update(bytes(changed), stored)  # a re-layout builds the place Struct only
    layout = stored._packers
    assert layout is not None and layout.place is not None and layout.split is None
    assert isinstance(first, SparseBytes) and first._packers is layout
    n, index = stored._runs, stored._index
    runs = [(index[i], index[i] + index[n + i + 1] - index[n + i]) for i in range(n)]
    edges = {i for start, end in runs for i in (start - 1, start, end - 1, end)
             if 0 <= i < len(data)}
    assert len(edges) > 8
    for pos in sorted(edges):
        changed = bytearray(data)
        changed[pos] ^= 0x80
        new, is_same = compact_update(bytes(changed), stored)
        assert not is_same and new == bytes(changed) and bytes(new) == bytes(changed)
        assert hash(new) == hash(bytes(changed))
        inside = any(start <= pos < end for start, end in runs)
        assert isinstance(new, SparseBytes) and (new._index is stored._index) == inside
    layout = stored._packers  # bytes() of a version made the split Struct, for all of them
    assert layout is not None and layout.place is not None and layout.split is not None
    assert bytes(stored) == bytes(data)
    twin = compact(bytes(data))  # another array of the same layout shares its Structs
    assert isinstance(twin, SparseBytes) and bytes(twin) == bytes(data)
    assert twin._packers is layout
    zeros = compact(bytes(4096))
    assert isinstance(zeros, SparseBytes) and zeros.stored_bytes() == 0
    assert compact_update(bytes(4096), zeros) == (zeros, True)
    one = bytearray(4096)
    one[7] = 1
    assert compact_update(bytes(one), zeros)[0] == bytes(one)


def test_layout_structs_cut_and_place_every_run() -> None:
    """The split and place Structs of a layout (made by one formatting call) match formats made
    run by run from the index, and cut/place real arrays and edge layouts exactly: no runs, a
    run at either end, runs a byte apart from their gaps, lengths above 64 KiB."""
    cases = [compact(data) for data in _big_accounts()]
    rng = random.Random(3)
    for length in (2_048, 10_136, 70_000):
        for runs in (0, 1, 5, 60):
            cases.append(compact(_random_sparse(rng, length, runs)))
    edge = bytearray(4096)
    edge[0] = edge[-1] = edge[2000] = 7
    cases.append(compact(bytes(edge)))
    checked = 0
    for stored in cases:
        if not isinstance(stored, SparseBytes):
            continue
        chunks, index = stored.runs()
        n = (len(index) - 2) // 2
        sizes = [index[n + i + 1] - index[n + i] for i in range(n)]
        place, pos = [], 0
        for i in range(n):
            place.append(f"{index[i] - pos}x{sizes[i]}s")
            pos = index[i] + sizes[i]
        place.append(f"{index[-1] - pos}x")
        layout = _Layout()
        split_struct = layout.make_split(index)
        place_struct = layout.make_place(index)
        assert split_struct.format == "<" + "".join(f"{s}s" for s in sizes)
        assert place_struct.format == "<" + "".join(place)
        data = bytes(stored)
        assert place_struct.pack(*split_struct.unpack(chunks)) == data
        assert b"".join(place_struct.unpack(data)) == chunks
        checked += 1
    assert checked > 20


def _random_sparse(rng: random.Random, length: int, runs: int) -> bytes:
    data = bytearray(length)
    for _ in range(runs):
        start = rng.randrange(length)
        data[start : start + rng.randint(1, 150)] = rng.randbytes(rng.randint(1, 150))[
            : length - start]
    return bytes(data)


def test_bytes_copies_runs_until_the_layout_is_read_often_then_uses_its_structs() -> None:
    data = bytearray(4096)
    for start in (7, 517, 1301, 3001):  # a layout no other test reads
        data[start : start + 40] = bytes(range(1, 41))
    stored = compact(bytes(data))
    assert isinstance(stored, SparseBytes)
    reads: list[object] = []
    for _ in range(4):
        reads.append(bytes(stored))
        layout = stored._packers
        assert layout is not None
        reads.append((layout.split is not None, layout.place is not None))
    assert reads[0::2] == [bytes(data)] * 4
    assert reads[1::2] == [(False, False), (False, False), (True, True), (True, True)]


def test_versions_never_read_through_another_layouts_structs() -> None:
    rng = random.Random(11)
    for trial in range(60):
        length = rng.choice((2048, 4096, 10240))
        previous: bytes | SparseBytes | None = None
        for _version in range(8):
            if isinstance(previous, SparseBytes) and rng.random() < 0.6:  # change inside the runs
                base = bytearray(bytes(previous))
                n, index = previous._runs, previous._index
                for i in range(n):
                    if rng.random() < 0.5:
                        pos = index[i] + rng.randrange(index[n + i + 1] - index[n + i])
                        base[pos] = rng.randint(1, 255)
                data = bytes(base)
            else:
                data = _random_sparse(rng, length, rng.randint(0, 40))
            stored, same = compact_update(data, previous)
            assert same == (previous is not None and previous == data)
            for _ in range(rng.randint(1, 4)):  # across the copy and the Struct reads
                assert bytes(stored) == data, trial
            assert stored == data and hash(stored) == hash(data) and len(stored) == len(data)
            size = len(data)  # _random_sparse's writes may change the length
            a, b = sorted(rng.randrange(size + 1) for _ in range(2))
            assert stored[a:b] == data[a:b]
            if a < size:
                assert stored[a] == data[a]
            else:  # past the end: an IndexError, as for the bytes
                with pytest.raises(IndexError):
                    stored[a]
            if isinstance(stored, SparseBytes) and isinstance(previous, SparseBytes):
                assert (stored._packers is previous._packers) == (stored._index is previous._index
                                                                  and previous._packers is not None)
                assert bytes(compact(data)) == data  # a twin (shared layout, if cached)
            previous = stored


def test_index_holds_the_length_two_bytes_an_entry_below_64_kib() -> None:
    # the index is the only per-array overhead besides the object (4 slots, no int objects)
    assert SparseBytes.__slots__ == ("_chunks", "_hash", "_index", "_packers")
    for length, typecode in ((10240, "H"), (65535, "H"), (65536, "I"), (200_000, "I")):
        data = bytearray(length)
        for start in (0, 4000, 60_000, 65_500, 65_536, 150_000, length - 40):
            if start + 40 <= length:
                data[start : start + 40] = bytes(range(1, 41))
        raw = bytes(data)
        stored = compact(raw)
        assert isinstance(stored, SparseBytes) and stored._index.typecode == typecode
        assert stored._index[-1] == len(stored) == stored._len == length and bool(stored)
        assert 3 <= stored._runs == (len(stored._index) - 2) // 2
        for _ in range(4):  # the copies, then the Structs
            assert bytes(stored) == raw
        assert stored == raw and hash(stored) == hash(raw) and stored == compact(raw)
        assert stored[65_530:65_600] == raw[65_530:65_600] and stored[-1] == raw[-1]
        changed = bytearray(raw)
        changed[length - 1] ^= 0x55  # inside the last run: a re-layout shares the index
        new, same = compact_update(bytes(changed), stored)
        assert not same and isinstance(new, SparseBytes) and new._index is stored._index
        assert bytes(new) == bytes(changed) and new != stored and len(new) == length
        assert compact_update(bytes(changed), new) == (new, True)
        assert compact_update(raw + bytes(8), stored)[0] == raw + bytes(8)  # other length
        assert repr(stored) == (f"SparseBytes(len={length}, runs={stored._runs}, "
                                f"stored={stored.stored_bytes()})")


def test_hash_is_computed_when_first_asked_and_equality_does_not_need_it() -> None:
    """A stored version is not hashed by the market (``_hash`` -1 until asked); asked, it is the
    bytes' hash; equality is right whichever side knows its hash."""
    rng = random.Random(5)
    data = _random_sparse(rng, 10240, 12)
    stored = compact(data)
    assert isinstance(stored, SparseBytes) and stored._hash == -1
    changed = bytearray(data)
    changed[bytes(data).index(next(b for b in data if b))] ^= 0x01  # a byte inside a run
    new, same = compact_update(bytes(changed), stored)
    assert isinstance(new, SparseBytes) and not same and new._hash == -1
    twin = compact(data)
    assert isinstance(twin, SparseBytes)
    for known in ((), (stored,), (stored, new), (stored, new, twin)):
        for obj in known:
            assert hash(obj) == hash(bytes(obj))
        assert stored == twin and twin == stored and stored != new and new != stored
        assert stored == data and new == bytes(changed) and new != data
    assert stored._hash == hash(data) and new._hash == hash(bytes(changed))
    assert {stored: 1}[data] == 1 and {data: 2}[twin] == 2  # interchangeable dict keys


def test_runs_describe_the_stored_bytes() -> None:
    """``SparseBytes.runs()`` (what the DLMM kernel walks): each run's start and offset rebuild
    the data, zeros between runs, the length last."""
    rng = random.Random(11)
    checked = 0
    for _ in range(200):
        data = bytearray(rng.choice((2_048, 10_136, 70_000)))
        for _ in range(rng.randint(1, 30)):
            at = rng.randrange(len(data))
            end = min(len(data), at + rng.randint(1, 200))
            data[at:end] = rng.randbytes(end - at)
        stored = compact(bytes(data))
        if not isinstance(stored, SparseBytes):
            continue
        chunks, index = stored.runs()
        n = (len(index) - 2) // 2
        assert index[-1] == len(data) and index.typecode == ("H" if len(data) <= 0xFFFF else "I")
        rebuilt = bytearray(len(data))
        for i in range(n):
            piece = chunks[index[n + i]:index[n + i + 1]]
            rebuilt[index[i]:index[i] + len(piece)] = piece
        assert bytes(rebuilt) == bytes(data) and index[2 * n] == len(chunks)
        checked += 1
    assert checked > 50


def test_layout_stays_shared_while_thousands_of_other_layouts_are_made() -> None:
    """A 10,000-pool replay stores its arrays with ~2,000 layouts: an array compacted again after
    2,000 other layouts were made (none of them held) gets the same Structs (fails with the
    256-layout cache the bench outgrew: each miss rebuilt a Struct)."""
    data = bytearray(4096)
    data[0:40] = data[4000:4040] = bytes(range(1, 41))
    first = compact(bytes(data))
    assert isinstance(first, SparseBytes)
    bytes(first), bytes(first), bytes(first)  # the third read builds the Structs
    layout = first._packers
    assert layout is not None and layout.split is not None
    del first
    for extra in range(1, 2001):  # 2,000 other layouts: the same runs, other lengths
        other = compact(bytes(data) + bytes(extra))
        assert isinstance(other, SparseBytes)
        assert bytes(other) == bytes(data) + bytes(extra)  # asks for its layout
    again = compact(bytes(data))
    assert isinstance(again, SparseBytes) and bytes(again) == bytes(data)
    assert again._packers is layout
