"""RpcClient: typed helpers replaying the recorded Solana RPC documentation examples over loopback
HTTP, getMultipleAccounts chunking, id matching, typed errors for error objects and garbled
replies."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from tests.rpc.rpc_loopback import MakeHttpServer, Reply, b58decode, recorded
from solders.hash import Hash
from solders.pubkey import Pubkey

from solarb.errors import Rejected, Retryable
from solarb.events import AccountUpdate
from solarb.rpc.client import RpcClient, SimulationResult
from solarb.rpc.errors import (
    BlockhashNotFound,
    InvalidParams,
    RpcNodeUnhealthy,
    RpcProtocolError,
    RpcResponseError,
    SimulationFailed,
    TransactionRejected,
)

SYSTEM = Pubkey.from_string("11111111111111111111111111111111")


def _to_base64(obj: Any) -> Any:
    """Recorded account objects use base58 data; the client asks for base64: re-encode."""
    if isinstance(obj, dict) and isinstance(obj.get("data"), list) and obj["data"][1] == "base58":
        raw = b58decode(obj["data"][0])
        return {**obj, "data": [base64.b64encode(raw).decode(), "base64"]}
    if isinstance(obj, dict):
        return {k: _to_base64(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_base64(v) for v in obj]
    return obj


class Replay:
    """Handler answering each method with its recorded documentation response (id rewritten)."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    async def __call__(self, body: bytes) -> Reply:
        req = json.loads(body)
        self.seen.append(req)
        resp = recorded(f"http_{req['method']}")["responses"][0]
        resp = _to_base64({**resp, "id": req["id"]})
        return Reply(json.dumps(resp).encode())


@pytest.fixture
async def replay(http_server: MakeHttpServer) -> AsyncIterator[tuple[RpcClient, Replay]]:
    handler = Replay()
    srv = await http_server(handler)
    client = RpcClient(srv.url, commitment="confirmed")
    yield client, handler
    await client.aclose()


async def test_recorded_accounts(replay: tuple[RpcClient, Replay]) -> None:
    client, seen = replay
    params = recorded("http_getMultipleAccounts")["requests"][0]["params"]
    keys = [Pubkey.from_string(k) for k in params[0]]
    slot, accounts = await client.get_multiple_accounts(keys)
    assert slot == 341197247
    assert [a.lamports for a in accounts if a] == [88849814690250, 998763433]
    a0 = accounts[0]
    assert isinstance(a0, AccountUpdate) and a0.pubkey == keys[0] and a0.owner == SYSTEM
    assert a0.data == b"" and a0.slot == slot and a0.ts_recv_ns > 0
    assert seen.seen[-1]["params"][1] == {"encoding": "base64", "commitment": "confirmed"}

    one = await client.get_account(keys[0])
    assert one is not None and one.slot == 341197053 and one.lamports == 88849814690250


async def test_recorded_cluster_and_balances(replay: tuple[RpcClient, Replay]) -> None:
    client, seen = replay
    bh, last_valid = await client.get_latest_blockhash()
    assert bh == Hash.from_string("EkSnNWid2cvwEVnVx9aBqawnmiCNiDgp3gUdkDPTKN1N")
    assert last_valid == 3090
    height = recorded("http_getBlockHeight")["responses"][0]["result"]
    assert await client.get_block_height() == height
    assert await client.get_slot() == recorded("http_getSlot")["responses"][0]["result"]
    assert await client.get_balance(SYSTEM) == 0
    token_account = "7fUAJdStEuGbc3sM84cKRL6yYaaSstyLSU4ve5oovLS7"
    assert await client.get_token_account_balance(token_account) == 9864
    assert await client.get_minimum_balance_for_rent_exemption(50) == 500
    assert seen.seen[-1]["params"] == [50]


async def test_recorded_transactions(replay: tuple[RpcClient, Replay]) -> None:
    client, seen = replay
    raw = bytes(range(200))
    sig = await client.send_transaction(raw)
    assert sig == recorded("http_sendTransaction")["responses"][0]["result"]
    params = seen.seen[-1]["params"]
    assert base64.b64decode(params[0]) == raw
    assert params[1]["encoding"] == "base64" and params[1]["skipPreflight"] is True
    assert params[1]["maxRetries"] == 0

    sim = await client.simulate_transaction(raw)
    assert isinstance(sim, SimulationResult)
    assert sim.err is None and sim.units_consumed == 2366 and sim.slot == 218
    assert sim.logs[-1] == "Program 83astBRguLMdt2h5U1Tpdq5tjFoJ6noeGwaY3mDLVcri success"
    assert seen.seen[-1]["params"][1]["sigVerify"] is False

    known = recorded("http_getSignatureStatuses")["requests"][0]["params"][0][0]
    statuses = await client.get_signature_statuses([known, sig])
    assert statuses[0] is not None and statuses[0]["confirmationStatus"] == "finalized"
    assert statuses[1] is None

    tx = await client.get_transaction(sig)
    assert tx is not None
    assert tx["slot"] == recorded("http_getTransaction")["responses"][0]["result"]["slot"]
    assert seen.seen[-1]["params"][1]["maxSupportedTransactionVersion"] == 0


# ---------------------------------------------------------------- the Transport seam


class Scripted:
    """A Transport (the one-method seam) answering from a function of the decoded request."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.bodies: list[Any] = []

    async def request(self, body: bytes) -> bytes:
        req = orjson.loads(body)
        self.bodies.append(req)
        out = self.answer(req)
        return out if isinstance(out, bytes) else orjson.dumps(out)


def ok(req: dict[str, Any], result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": req["id"], "result": result}


def err(req: dict[str, Any], code: int, message: str, data: Any = None) -> dict[str, Any]:
    e: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        e["data"] = data
    return {"jsonrpc": "2.0", "id": req["id"], "error": e}


def _account(lamports: int, data: bytes = b"\x01\x02") -> dict[str, Any]:
    return {"data": [base64.b64encode(data).decode(), "base64"], "executable": False,
            "lamports": lamports, "owner": str(SYSTEM), "rentEpoch": 0, "space": len(data)}


async def test_get_multiple_accounts_chunks_250_into_3_calls() -> None:
    keys = [Pubkey.new_unique() for _ in range(250)]
    by_key = {str(k): i for i, k in enumerate(keys)}
    slots = iter([900, 901, 899])

    def answer(req: dict[str, Any]) -> Any:
        values = [_account(by_key[k], by_key[k].to_bytes(2, "little")) if by_key[k] % 7 else None
                  for k in req["params"][0]]
        return ok(req, {"context": {"slot": next(slots)}, "value": values})

    t = Scripted(answer)
    slot, accounts = await RpcClient(t).get_multiple_accounts(keys)
    assert [len(b["params"][0]) for b in t.bodies] == [100, 100, 50]
    assert slot == 899  # the lowest chunk slot
    assert len(accounts) == 250
    for i, (k, a) in enumerate(zip(keys, accounts, strict=True)):
        if i % 7 == 0:
            assert a is None
        else:
            assert a is not None and a.pubkey == k and a.lamports == i
            assert a.data == i.to_bytes(2, "little")
    assert {a.slot for a in accounts if a} == {900, 901, 899}


@pytest.mark.parametrize(
    ("reply", "exc"),
    [
        (b"<html>502 bad gateway</html>", RpcProtocolError),  # garbled JSON
        (b'{"jsonrpc":"2.0","id":1}', RpcProtocolError),  # missing result
        (b'{"jsonrpc":"2.0","id":999,"result":1}', RpcProtocolError),  # wrong id
        (b"[1,2]", RpcProtocolError),  # not an object
        (b'{"jsonrpc":"2.0","id":1,"result":{"context":{"slot":1}}}', RpcProtocolError),  # no value
        (b'{"jsonrpc":"2.0","id":1,"result":{"context":{"slot":"1"},"value":5}}', RpcProtocolError),
        (b'{"jsonrpc":"2.0","id":1,"result":{"context":{"slot":1},"value":"5"}}', RpcProtocolError),
        (b'{"jsonrpc":"2.0","id":1,"error":{"code":"x"}}', RpcProtocolError),  # malformed error
        (
            b'{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}',
            RpcResponseError,
        ),
    ],
)
async def test_garbled_replies_are_protocol_errors(reply: bytes, exc: type[Exception]) -> None:
    client = RpcClient(Scripted(lambda req: reply))
    with pytest.raises(exc):
        await client.get_balance(SYSTEM)


@pytest.mark.parametrize(
    "value",
    [
        [{"data": ["!!notbase64", "base64"], "lamports": 1, "owner": str(SYSTEM)}],
        [{"data": ["", "base58"], "lamports": 1, "owner": str(SYSTEM)}],
        [{"data": ["", "base64"], "lamports": "1", "owner": str(SYSTEM)}],
        [{"data": ["", "base64"], "lamports": 1, "owner": "not-a-key"}],
        [{"data": ["", "base64"], "lamports": 1}],
        [],  # wrong length
        {"not": "a list"},
    ],
)
async def test_bad_account_shapes(value: Any) -> None:
    client = RpcClient(Scripted(lambda req: ok(req, {"context": {"slot": 3}, "value": value})))
    with pytest.raises(RpcProtocolError):
        await client.get_multiple_accounts([Pubkey.new_unique()])


async def test_error_objects_are_typed() -> None:
    sim_data = {
        "err": {"InstructionError": [2, {"Custom": 6022}]},
        "logs": ["Program log: slippage"],
        "accounts": None,
        "unitsConsumed": 41000,
    }
    cases: list[tuple[dict[str, Any], type[Exception]]] = [
        ({"code": -32002, "message": "Simulation failed", "data": sim_data}, SimulationFailed),
        ({"code": -32002, "message": "Transaction simulation failed: Blockhash not found",
          "data": {"err": "BlockhashNotFound", "logs": []}}, BlockhashNotFound),
        ({"code": -32005, "message": "Node is behind by 42 slots", "data": {"numSlotsBehind": 42}},
         RpcNodeUnhealthy),
        ({"code": -32003, "message": "signature verification failure"}, TransactionRejected),
        ({"code": -32601, "message": "Method not found"}, RpcResponseError),
    ]
    for error, exc in cases:
        client = RpcClient(Scripted(lambda req, e=error: err(req, e["code"], e["message"],
                                                             e.get("data"))))
        with pytest.raises(exc) as ei:
            await client.send_transaction(b"\x00", skip_preflight=False)
        if isinstance(ei.value, SimulationFailed):
            assert isinstance(ei.value, Rejected)
            assert ei.value.err == sim_data["err"]
            assert ei.value.logs == ("Program log: slippage",)
            assert ei.value.units_consumed == 41000 and ei.value.code == -32002
        if exc in (BlockhashNotFound, RpcNodeUnhealthy):
            assert isinstance(ei.value, Retryable)


async def test_token_balance_of_missing_account_is_none() -> None:
    msg = "Invalid param: could not find account"
    client = RpcClient(Scripted(lambda req: err(req, -32602, msg)))
    assert await client.get_token_account_balance(Pubkey.new_unique()) is None
    client = RpcClient(Scripted(lambda req: err(req, -32602, "Invalid param: not a Token account")))
    with pytest.raises(InvalidParams):
        await client.get_token_account_balance(Pubkey.new_unique())


async def test_batch_keeps_order_and_per_call_errors() -> None:
    def answer(reqs: list[dict[str, Any]]) -> Any:
        out = [ok(r, r["params"][0] * 2) if r["method"] == "double" else err(r, -32601, "nope")
               for r in reqs]
        return list(reversed(out))  # servers may answer a batch in any order

    client = RpcClient(Scripted(answer))
    res = await client.batch([("double", [1]), ("missing", None), ("double", [5])])
    assert res[0] == 2 and res[2] == 10
    assert isinstance(res[1], RpcResponseError) and res[1].code == -32601
    assert await client.batch([]) == []

    short = RpcClient(Scripted(lambda reqs: [ok(reqs[0], 1)]))
    with pytest.raises(RpcProtocolError):
        await short.batch([("a", None), ("b", None)])


async def test_request_ids_are_unique_and_params_omitted_when_none() -> None:
    t = Scripted(lambda req: ok(req, "ok"))
    client = RpcClient(t)
    await client.get_health()
    await client.call("getHealth")
    assert [b["id"] for b in t.bodies] == [1, 2]
    assert "params" not in t.bodies[0]
