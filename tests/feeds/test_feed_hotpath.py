"""The per-notification hot path of the PubSub feed: the one-pass decode must give exactly what
``decode_account`` gives, fall back to it for anything unusual (so garbled frames are still
counted with its message), and the delivery buffer keeps its dedupe/coalescing rules."""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
import sys

import orjson
import pytest
from solders.pubkey import Pubkey

from solarb.events import AccountUpdate
from solarb.feeds.delivery import Delivery, EndpointStats, FeedStats, new_update
from solarb.feeds.pubsub import PubSubFeed
from solarb.feeds.pubsub_shards import _ShardNotes
from solarb.rpc.client import decode_account
from solarb.rpc.errors import RpcProtocolError
from solarb.rpc.ws import PubSubConnection
from tests.support.data import SHARED_DATA

DUMP = (SHARED_DATA / "accounts/raydium_amm_v4/sol_usdc_58oQChx4"
        / "58oQChx4yWmvKdwLLZzBi4ChoCc2fqCUWBkwMihLYQo2.json")
POOL = Pubkey.from_string("58oQChx4yWmvKdwLLZzBi4ChoCc2fqCUWBkwMihLYQo2")
OWNER = "675kPX9MHTjS2zt1qfr1NYHuzeLXfQM9H24wFSUt1Mp8"


def _value(**over: object) -> dict[str, object]:
    """A real account (the Raydium SOL/USDC pool) as a PubSub notification carries it."""
    raw = base64.b64decode(json.loads(DUMP.read_text())["data"])
    value: dict[str, object] = {
        "lamports": 6_124_800, "data": [base64.b64encode(raw).decode(), "base64"], "owner": OWNER,
        "executable": False, "rentEpoch": 2**64 - 1, "space": len(raw),
    }  # fmt: skip
    value.update(over)
    return value


def test_new_update_is_the_same_frozen_object_as_the_constructor() -> None:
    pk, owner = Pubkey.new_unique(), Pubkey.new_unique()
    fast = new_update(pk, 7, b"abc", owner, 9, 11)
    slow = AccountUpdate(pk, 7, b"abc", owner, 9, 11)
    assert type(fast) is AccountUpdate
    assert fast == slow and hash(fast) == hash(slow) and repr(fast) == repr(slow)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.slot = 8  # type: ignore[misc]


def test_decode_account_fast_path_equals_the_constructor_on_real_bytes() -> None:
    value = _value()
    text = value["data"][0]  # type: ignore[index]
    want = AccountUpdate(POOL, 42, base64.b64decode(text), Pubkey.from_string(OWNER), 6_124_800, 1234)
    first = decode_account(POOL, value, 42, 1234, "accountNotification")  # parses the owner
    fast = decode_account(POOL, value, 42, 1234, "accountNotification")  # owner known: one pass
    assert first == want and fast == want and type(fast) is AccountUpdate
    assert len(fast.data) == 752 and str(fast.owner) == OWNER and fast.lamports == 6_124_800


@pytest.mark.parametrize(
    "value",
    [
        None,  # account deleted: decode_account returns None
        [1, 2],
        _value(data=["QUJD", "base58"]),
        _value(data=["QUJD"]),
        _value(data="QUJD"),
        _value(data=[b"QUJD", "base64"]),
        _value(data=["@@not base64@@", "base64"]),
        _value(data=["QUJD====", "base64"]),  # excess padding: only the checked rules decide
        _value(owner="not a pubkey"),
        _value(owner=None),
        _value(owner=["unhashable"]),
        _value(lamports=True),
        _value(lamports="5"),
    ],
)
def test_unusual_objects_take_the_checked_path(value: object) -> None:
    decode_account(POOL, _value(), 1, 0)  # the owner is known: the fast path is open
    if value is None:
        assert decode_account(POOL, value, 1, 0) is None
    elif value == _value(data=["QUJD====", "base64"]):  # SIMD base64 refuses; binascii accepts
        upd = decode_account(POOL, value, 1, 0, "accountNotification")
        assert upd is not None and upd.data == b"ABC"
    else:
        with pytest.raises(RpcProtocolError):
            decode_account(POOL, value, 1, 0, "accountNotification")


def _wired_feed(legacy: bool = False) -> tuple[PubSubFeed, PubSubConnection, int]:
    """A feed with one account subscribed on a connection, as a live session leaves it
    (``legacy``: through a callable callback wrapping the shard's handler, not the pubkey)."""
    feed = PubSubFeed("ws://feed.invalid", None, ping_interval=None)  # type: ignore[arg-type]
    feed.watch([POOL])
    shard = feed.endpoints[0].shards[0]
    conn = PubSubConnection(shard.endpoint.url, on_garbled=feed._count_garbled,
                            on_account=_ShardNotes(feed, shard))
    shard.conn, shard.live = conn, True
    conn._subs[5] = functools.partial(conn.on_account, POOL) if legacy else POOL
    return feed, conn, 5


def test_account_callbacks_are_small_slotted_objects() -> None:
    feed, conn, sub = _wired_feed()
    note = conn._subs[sub]
    assert not hasattr(note, "__dict__")  # no per-account dict, bound method or partial
    assert sys.getsizeof(note) <= 64
    assert feed._homes(POOL) == (feed.endpoints[0].shards[0],)
    assert not isinstance(feed._watched[POOL], tuple)  # one endpoint: the shard, no tuple
    two = PubSubFeed("ws://a.invalid", None, extra_ws_urls=["ws://b.invalid"],  # type: ignore[arg-type]
                     ping_interval=None)
    two.watch([POOL])
    assert [s.endpoint.url for s in two._homes(POOL)] == ["ws://a.invalid", "ws://b.invalid"]
    two.unwatch([POOL])
    assert two._homes(POOL) == () and two.watched == []


def _frame(sub: int, slot: int, value: object) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "method": "accountNotification",
                         "params": {"result": {"context": {"slot": slot}, "value": value},
                                    "subscription": sub}})  # fmt: skip


@pytest.mark.parametrize("legacy", [False, True])
def test_frames_through_the_connection_garbled_counted_odd_but_valid_delivered(
    legacy: bool,
) -> None:
    feed, conn, sub = _wired_feed(legacy)
    got: list[AccountUpdate] = []
    conn.frame_recv_ns = 99
    conn._dispatch(_frame(sub, 10, _value()))
    conn._dispatch(_frame(sub, 11, _value(data=["@@not base64@@", "base64"])))
    conn._dispatch(_frame(sub, 12, _value(lamports="5")))
    conn._dispatch(_frame(sub, 13, None))  # deleted account: nothing, not garbled
    conn._dispatch(_frame(sub, 14, _value(data=["QUJD====", "base64"])))  # binascii accepts it
    assert feed.delivery.drain_now(got.append) == 1  # slots 10 and 14 coalesced
    assert feed.counters.garbled == 2 and feed.counters.coalesced == 1
    assert isinstance(feed.last_error, Exception) and "lamports" in str(feed.last_error)
    assert [(u.slot, u.data, u.ts_recv_ns) for u in got] == [(14, b"ABC", 99)]
    with pytest.raises(RpcProtocolError):  # the reference path's own verdict on slot 11
        decode_account(POOL, _value(data=["@@not base64@@", "base64"]), 11, 0)


def test_program_notifications_use_the_same_decode() -> None:
    feed = PubSubFeed("ws://feed.invalid", None, ping_interval=None)  # type: ignore[arg-type]
    feed.watch_programs([Pubkey.from_string(OWNER)])
    shard = feed.endpoints[0].shards[0]
    conn = PubSubConnection(shard.endpoint.url)
    shard.conn = conn
    conn._subs[3] = functools.partial(feed._on_program_note, shard)
    for slot, account in ((5, _value()), (6, _value(owner=7))):
        conn._dispatch(orjson.dumps({"jsonrpc": "2.0", "method": "programNotification", "params": {
            "result": {"context": {"slot": slot},
                       "value": {"pubkey": str(POOL), "account": account}},
            "subscription": 3}}))  # fmt: skip
    got: list[AccountUpdate] = []
    feed.delivery.drain_now(got.append)
    assert [(u.pubkey, u.slot, len(u.data)) for u in got] == [(POOL, 5, 752)]
    assert feed.counters.garbled == 1


def _upd(pk: Pubkey, slot: int, ts: int = 0) -> AccountUpdate:
    return AccountUpdate(pk, slot, b"x", pk, 1, ts)


def test_drain_now_delivers_updates_offered_while_draining_and_survives_errors() -> None:
    stats = FeedStats()
    delivery = Delivery(stats)
    ep = EndpointStats("ws://a")
    a, b = Pubkey.new_unique(), Pubkey.new_unique()
    got: list[int] = []

    def on_update(upd: AccountUpdate) -> None:
        got.append(upd.slot)
        if upd.pubkey == a and upd.slot == 1:
            delivery.offer(_upd(b, 2), ep)  # arrives while the batch is applied

    delivery.offer(_upd(a, 1), ep)
    assert delivery.drain_now(on_update) == 2 and got == [1, 2]
    delivery.offer(_upd(a, 3), ep)
    delivery.offer(_upd(b, 3), ep)

    def boom(upd: AccountUpdate) -> None:
        raise RuntimeError("consumer failed")

    with pytest.raises(RuntimeError):
        delivery.drain_now(boom)
    assert delivery.queued(a) and delivery.queued(b)  # not applied: still queued
    delivery.offer(_upd(a, 4), ep)  # replaces a's queued copy
    assert delivery.drain_now(lambda u: got.append(u.slot)) == 2 and got[-2:] == [4, 3]
    assert stats.delivered == 4


def test_resync_then_stream_keeps_the_count_within_a_slot() -> None:
    stats = FeedStats()
    delivery = Delivery(stats)
    a, b = EndpointStats("ws://a"), EndpointStats("ws://b")
    pk = Pubkey.new_unique()
    delivery.offer(_upd(pk, 5, ts=10), a)
    delivery.resynced(_upd(pk, 5, ts=20))  # same slot: keeps k=1, winner forgotten
    delivery.offer(_upd(pk, 5, ts=30), b)  # b's 1st at slot 5: duplicate, no lead credited
    assert stats.duplicates == 1 and a.led == 0 and delivery.last_slot(pk) == 5
    delivery.offer(_upd(pk, 5, ts=40), a)  # a's 2nd change within slot 5: new
    delivery.resynced(_upd(pk, 4))  # older than delivered
    assert stats.dropped_stale == 1 and delivery.queued(pk)
    got: list[AccountUpdate] = []
    delivery.drain_now(got.append)
    assert [u.ts_recv_ns for u in got] == [40] and not delivery.queued(pk)
    delivery.forget(pk)
    assert delivery.last_slot(pk) == -1
