"""PubSubConnection routes subscriptions registered with a pubkey (no callback object per
account) to its one ``on_account`` handler; callables are called as before."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from solders.pubkey import Pubkey

from solarb.rpc.ws import PubSubConnection


def _note(sub: int, slot: int, value: Any) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "method": "accountNotification",
                         "params": {"result": {"context": {"slot": slot}, "value": value},
                                    "subscription": sub}})  # fmt: skip


def _reply(req: int, result: Any) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "id": req, "result": result})


def test_pubkey_entries_go_to_on_account_callables_to_themselves() -> None:
    got: list[tuple[Any, ...]] = []
    conn = PubSubConnection("ws://x.invalid",
                            on_account=lambda pk, v, s: got.append(("acct", pk, v, s)))
    a, b = Pubkey.new_unique(), Pubkey.new_unique()
    conn._subs[7] = a
    conn._subs[8] = b
    conn._subs[9] = lambda v, s: got.append(("cb", v, s))
    conn._dispatch(_note(8, 11, {"x": 1}))
    conn._dispatch(_note(9, 12, {"y": 2}))
    conn._dispatch(_note(7, 13, None))
    conn._dispatch(_note(6, 14, {}))  # unknown subscription
    assert got == [("acct", b, {"x": 1}, 11), ("cb", {"y": 2}, 12), ("acct", a, None, 13)]
    assert got[0][1] is b and conn.unknown_notifications == 1 and conn.garbled == 0


def test_a_subscribe_reply_registers_the_pubkey_and_without_handler_it_is_unrouted() -> None:
    conn = PubSubConnection("ws://x.invalid")  # no on_account
    pk = Pubkey.new_unique()
    async def go() -> None:
        fut = asyncio.get_running_loop().create_future()
        conn._pending[3] = (fut, pk)
        conn._dispatch(_reply(3, 41))
        assert await fut == 41 and conn._subs[41] is pk
        conn._dispatch(_note(41, 5, {"z": 0}))

    asyncio.run(go())
    assert conn.unknown_notifications == 1 and conn.garbled == 0
