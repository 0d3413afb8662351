"""The fast reader of account notifications (``_notes`` kernel) against the general orjson path.

Every frame is dispatched twice, on connections with the same subscriptions: once with the
kernel, once without (``ws._account_note = None``: the general path). What reaches
``on_account`` (decoded with :func:`decode_account` as the feed's shard does, or its
RpcProtocolError), the callbacks' arguments, ``on_garbled``'s errors, exceptions and the
counters must be identical. Frames: the bench workload's, the recorded documentation examples
(base58 / jsonParsed, and re-encoded as base64, compact and pretty-printed), hand-made edge
cases and seeded mutations of all of them (truncations, byte edits), most of them malformed.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from solders.pubkey import Pubkey

from solarb.events import AccountUpdate
from solarb.rpc import ws
from solarb.rpc.client import decode_account
from solarb.rpc.errors import RpcProtocolError
from solarb.rpc.ws import PubSubConnection
from solarb.runtime.bench import BenchConfig
from solarb.runtime.bench_workload import Workload
from tests.support.data import SHARED_DATA

pytestmark = pytest.mark.skipif(ws._account_note is None, reason="_notes kernel not built")

KERNEL = ws._account_note
DOC = json.loads((SHARED_DATA / "solana_rpc" / "websocket_accountSubscribe.json").read_text())
SPL = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
PK_SUB, CB_SUB, UNKNOWN_SUB = 23784, 41, 99  # a pubkey entry, a callable entry, nobody's


def _workload_frames(n: int) -> tuple[list[bytes], dict[int, Pubkey]]:
    cfg = BenchConfig(pools=12, updates=n, seed=3)
    work = Workload(cfg.pools, cfg.seed, cfg.swaps_per_slot, cfg.inject_every)
    subs = [(bytes(k), i + 2, 0) for i, k in enumerate(work.pool_keys)]
    work.watch(subs, [(1, 0)])
    frames = [f for _, _, f in work.frames(n)]
    return frames, {sid: Pubkey.from_bytes(pk) for pk, sid, _ in subs}


def _note(value: Any, slot: Any = 5199307, sub: Any = PK_SUB, **extra: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": "accountNotification",
            "params": {"result": {"context": {"slot": slot}, "value": value},
                       "subscription": sub}, **extra}


def _account(data: Any = None, lamports: Any = 33594, owner: Any = SPL, **extra: Any) -> dict:
    if data is None:
        data = [base64.b64encode(bytes(range(165))).decode(), "base64"]
    return {"data": data, "executable": False, "lamports": lamports, "owner": owner,
            "rentEpoch": 18446744073709551615, "space": 165, **extra}


def _hand_made() -> list[bytes]:
    good = _note(_account())
    dumps: Callable[[Any], bytes] = orjson.dumps
    out = [dumps(good), json.dumps(good, indent=2).encode(), json.dumps(good).encode(),
           b"  \n" + dumps(good) + b" \r\n\t", dumps(good) + b"x", dumps(good) + b"{}",
           b"\xef\xbb\xbf" + dumps(good), dumps(good)[:-1], b"", b"null", b"[]", b'"x"', b"{}",
           dumps(_note(_account(), sub=CB_SUB)), dumps(_note(_account(), sub=UNKNOWN_SUB))]
    for sub in (-1, True, "23784", 2.0, None, 2**63, 2**64 - 1):
        out.append(dumps(_note(_account(), sub=sub)))
    for slot in (-1, 0, 1.5, None, True, "5", 2**63 - 1):
        out.append(dumps(_note(_account(), slot=slot)))
    out.append(dumps(_note(_account())).replace(b"5199307", b"18446744073709551616"))
    out.append(dumps(_note(_account())).replace(b"5199307", b"01"))
    for lamports in (-1, 0, 1.5, True, "1", None, 2**64 - 1, 2**63):
        out.append(dumps(_note(_account(lamports=lamports))))
    out.append(dumps(_note(_account())).replace(b"33594", b"18446744073709551616"))
    out.append(dumps(_note(_account())).replace(b"33594", b"3.3594e4"))
    for owner in ("xyz", 7, None, "11111111111111111111111111111111",
                  "SysvarC1ock11111111111111111111111111111111"):
        out.append(dumps(_note(_account(owner=owner))))
    b64 = base64.b64encode(b"\x01\x02\x03\x04").decode()
    for data in ([b64, "base58"], [b64], [b64, "base64", 1], [1, "base64"], b64, None, {},
                 ["", "base64"], ["QR==", "base64"], ["QQ=", "base64"], ["QUJD\n", "base64"],
                 ["QU JD", "base64"], ["QUJD====", "base64"], ["\u00e9AAA", "base64"],
                 [b64, "base64+zstd"], ["AAAA", "bas\u00e964"]):
        out.append(dumps(_note(_account(data=data))))
    out.append(dumps(_note(_account())).replace(b'"data":["', b'"data":["\\/'))
    out.append(dumps(_note(_account([b64, "base64"]))).replace(b"AQIDBA==", b"AQ\\u0049DBA=="))
    out.append(dumps(_note(None)))
    out.append(dumps(_note([1, 2])))
    out.append(dumps(_note(_account(), method="\u00e9t\u00e9")))  # UTF-8 in another string
    out.append(dumps(_note(_account())).replace(b"2.0", b"2\\u002e0"))  # an escape elsewhere
    out.append(dumps(_note(_account())).replace(b"2.0", b"2\xff0"))  # invalid UTF-8 elsewhere
    out.append(dumps(_note(_account(), extra=[1.5, -0.0, 1e300, -0, True, None, {}, [], ""])))
    out.append(dumps(_note(_account())).replace(b'"space":165', b'"space":-0'))
    out.append(dumps(_note(_account())).replace(b'"space":165', b'"space":0165'))
    out.append(dumps(_note(_account())).replace(b'"space":165', b'"space":1e400'))
    out.append(dumps(_note(_account())).replace(b'"space":165', b'"space":-9223372036854775809'))
    out.append(dumps(_note(_account())).replace(b'"space":165', b'"space":NaN'))
    for depth in (30, 40, 2000):  # nesting in a value the reader passes over
        deep = b'{"deep":' + b"[" * depth + b"]" * depth + b","
        out.append(dumps(good).replace(b"{", deep, 1))
    msg = dumps(_note(_account()))
    for key in (b'"params":', b'"result":', b'"context":', b'"slot":', b'"value":', b'"data":',
                b'"lamports":', b'"owner":', b'"subscription":'):  # each key read, twice
        at = msg.index(key)
        end = at + len(key)
        out.append(msg[:at] + key + b'{"slot":1},' + msg[at:])
        out.append(msg[:at] + key + b"7," + msg[at:])
        out.append(msg[:at] + b'"other":' + msg[end:])  # missing
        if key in (b'"slot":', b'"lamports":', b'"subscription":'):  # again after: orjson's
            value_end = end + len(msg[end:]) - len(msg[end:].lstrip(b"0123456789"))
            out.append(msg[:value_end] + b"," + key + b"8" + msg[value_end:])
    out.append(msg.replace(b'"space":165', b'"space":' + b"9" * 400))
    for key, rest in ((b'"context":', b'{}'), (b'"value":', b'{}'), (b'"params":', b"{}"),
                      (b'"result":', b"{}"), (b'"params":', b"null"), (b'"params":', b"[]")):
        at = msg.index(key) + len(key)
        depth, end = 0, at
        for end in range(at, len(msg)):  # the end of the value at ``at``
            ch = msg[end : end + 1]
            depth += ch in (b"{", b"[")
            depth -= ch in (b"}", b"]")
            if depth == 0:
                break
        out.append(msg[:at] + rest + msg[end + 1 :])
    out.append(dumps({"jsonrpc": "2.0", "id": 3, "result": 5}))  # a reply nobody waits for
    out.append(dumps({"jsonrpc": "2.0", "method": "slotNotification",
                      "params": {"result": {"parent": 1, "root": 0, "slot": 2},
                                 "subscription": CB_SUB}}))
    return out


def _recorded() -> list[bytes]:
    out = []
    for note in DOC["notifications"]:
        out.append(orjson.dumps(note))
        out.append(json.dumps(note, indent=2).encode())
        value = note["params"]["result"]["value"]
        if isinstance(value, dict) and isinstance(value.get("data"), list):
            raw = b"\x07" * 80
            moved = json.loads(json.dumps(note))
            moved["params"]["result"]["value"]["data"] = [base64.b64encode(raw).decode(), "base64"]
            out.append(orjson.dumps(moved))
            out.append(json.dumps(moved, indent=1).encode())
    return out


def _mutants(frames: list[bytes], rng: random.Random, n: int) -> list[bytes]:
    alphabet = b'{}[]",:\\ \n\t0123456789-.eE+/=Aaz\x00\x1f\x7f\xc3\xa9\xff'
    out = []
    for _ in range(n):
        f = bytearray(rng.choice(frames))
        kind = rng.randrange(5)
        at = rng.randrange(len(f) + 1)
        if kind == 0:
            del f[at:]
        elif kind == 1 and at < len(f):
            del f[at]
        elif kind == 2:
            f[at:at] = bytes([rng.choice(alphabet)])
        elif kind == 3 and at < len(f):
            f[at] = rng.choice(alphabet)
        else:  # a change near the structure: before a quote or a digit
            spots = [i for i, c in enumerate(f) if c in b'":,0123456789'] or [0]
            i = rng.choice(spots)
            f[i : i + 1] = bytes([rng.choice(alphabet)])
        out.append(bytes(f))
    return out


def _replay(frames: list[Any], subs: dict[int, Pubkey], fast: bool) -> tuple[list[Any], int]:
    """What the connection's handlers saw, in order, and how many frames the kernel took."""
    log: list[Any] = []
    taken = 0

    def counting(frame: Any, b64: Any) -> Any:
        nonlocal taken
        note = KERNEL(frame, b64)
        taken += note is not None
        return note

    def on_account(pk: Pubkey, value: Any, slot: int) -> None:
        try:
            upd = decode_account(pk, value, slot, conn.frame_recv_ns, "accountNotification")
        except RpcProtocolError as e:
            log.append(("acct-error", pk, str(e), slot))
            return
        if upd is not None:
            assert type(upd) is AccountUpdate
            upd = (upd.pubkey, upd.slot, upd.data, upd.owner, upd.lamports, upd.ts_recv_ns)
        log.append(("acct", pk, upd, slot))

    conn = PubSubConnection("ws://x.invalid", on_account=on_account,
                            on_garbled=lambda e: log.append(("garbled", type(e), str(e))))
    conn._subs.update(subs)
    conn._subs[CB_SUB] = lambda value, slot: log.append(("cb", value, slot))
    saved = ws._account_note
    ws._account_note = counting if fast else None
    try:
        for i, frame in enumerate(frames):
            conn.frame_recv_ns = 1000 + i
            try:
                conn._dispatch(frame)
            except Exception as e:  # noqa: BLE001 - compared, both paths must raise alike
                log.append(("raised", type(e), str(e)))
    finally:
        ws._account_note = saved
    log.append(("counters", conn.garbled, conn.unknown_notifications))
    return log, taken


def _same(frames: list[Any], subs: dict[int, Pubkey]) -> int:
    fast, taken = _replay(frames, subs, True)
    general, _ = _replay(frames, subs, False)
    for i, (a, b) in enumerate(zip(fast, general, strict=True)):
        assert a == b, f"entry {i} differs"
    return taken


def test_workload_frames_take_the_fast_road_with_the_general_results() -> None:
    frames, subs = _workload_frames(300)
    taken = _same(frames, subs)
    accounts = sum(b"accountNotification" in f for f in frames)
    assert accounts == 300 and taken >= accounts - 20  # the first frame of each owner: general


def test_recorded_and_hand_made_frames_give_the_same_results() -> None:
    subs = {PK_SUB: Pubkey.from_string("CM78CPUeXjn8o3yroDHxUtKsZZgoy4GPkPPXfouKNH12")}
    frames = _recorded() + _hand_made() + ["not bytes", bytearray(b"{}")]
    taken = _same(frames, subs)
    assert 8 <= taken < len(frames) // 4  # well-formed base64 ones only


def test_mutated_frames_give_the_same_results_and_errors() -> None:
    rng = random.Random(20261126)
    workload, subs = _workload_frames(40)
    subs[PK_SUB] = Pubkey.from_string("CM78CPUeXjn8o3yroDHxUtKsZZgoy4GPkPPXfouKNH12")
    base = workload + _recorded() + _hand_made()
    frames = _mutants(base, rng, 3000)
    _same(frames, subs)
    fast, _ = _replay(frames, subs, True)
    kinds = {entry[0] for entry in fast}
    assert {"acct", "garbled"} <= kinds  # both outcomes exercised


def test_the_kernel_reads_the_fields_and_declines_the_rest() -> None:
    raw = bytes(range(7)) * 30
    frame = orjson.dumps(_note(_account([base64.b64encode(raw).decode(), "base64"],
                                        lamports=2**64 - 1), slot=12, sub=34))
    from pybase64 import b64decode

    assert KERNEL(frame, b64decode) == (34, 12, raw, SPL, 2**64 - 1)
    assert KERNEL(frame.decode(), b64decode) is None  # bytes only
    assert KERNEL(frame[:-1], b64decode) is None

    def broken(data: Any, validate: bool) -> bytes:
        raise MemoryError("not a ValueError: raised through")

    with pytest.raises(MemoryError):
        KERNEL(frame, broken)
    with pytest.raises(TypeError):
        KERNEL(frame, lambda data, validate: data)  # the view: refused, frame not kept
    with pytest.raises(TypeError):
        KERNEL(frame)  # type: ignore[call-arg]


def test_a_view_the_decoder_keeps_holds_the_frame() -> None:
    """The kernel hands ``b64decode`` a view of the frame's bytes that holds the frame: a view the
    callable keeps, or one it derives from it, still reads the base64 text once the frame's last
    other reference is gone (no view of freed memory)."""
    from pybase64 import b64decode

    raw = bytes(range(11)) * 20
    text = base64.b64encode(raw)
    kept: list[memoryview] = []

    def keeping(data: memoryview, validate: bool) -> bytes:
        kept.append(data)
        kept.append(memoryview(data)[1:])  # derived: shares the same buffer
        return b64decode(data, validate=validate)

    frame = orjson.dumps(_note(_account([text.decode(), "base64"]), slot=3, sub=4))
    assert KERNEL(frame, keeping)[2] == raw
    del frame
    junk = [bytes(len(text) + 200) for _ in range(200)]  # reuse freed memory, were it freed
    assert bytes(kept[0]) == text and bytes(kept[1]) == text[1:]
    assert len(junk) == 200
