"""JSON-RPC over HTTP against a real Bank, on an ephemeral loopback port, with httpx.

Response shapes are checked against the recorded examples of the official RPC documentation
(/work/shared/data/solana_rpc/http_*.json).
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message, to_bytes_versioned
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from solarb.dex.spl_token import TOKEN_PROGRAM_ID, encode_mint, encode_token_account
from solarb.sim.accounts import Account, rent_exempt_minimum
from solarb.sim.bank import Bank
from solarb.sim.rpc_server import RpcServer
from solarb.sim.wire import b58encode
from tests.support.data import SHARED_DATA

DOCS = SHARED_DATA / "solana_rpc"
SOL = 1_000_000_000


def doc_result(method: str) -> Any:
    """The ``result`` of the first recorded documentation response of ``method``."""
    return json.loads((DOCS / f"http_{method}.json").read_text())["responses"][0]["result"]


def assert_shape(actual: Any, expected: Any, path: str = "$") -> None:
    """``actual`` has every key of ``expected`` (recursively) with a JSON value of the same kind."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: {actual!r} is not an object"
        for key, value in expected.items():
            assert key in actual, f"{path}.{key} missing"
            assert_shape(actual[key], value, f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{path}: {actual!r} is not an array"
        if expected and actual and not isinstance(expected[0], str):
            assert_shape(actual[0], expected[0], f"{path}[0]")
    elif isinstance(expected, bool):
        assert isinstance(actual, bool), f"{path}: {actual!r} is not a bool"
    elif isinstance(expected, int):
        assert isinstance(actual, int) and not isinstance(actual, bool), f"{path}: {actual!r} not int"
    elif isinstance(expected, str):
        assert isinstance(actual, str), f"{path}: {actual!r} is not a string"


class Rpc:
    """A tiny JSON-RPC caller over one keep-alive httpx client."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.next_id = 0

    async def raw(self, method: str, *params: Any) -> dict[str, Any]:
        self.next_id += 1
        body = {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": list(params)}
        resp = await self.client.post("/", json=body)
        assert resp.status_code == 200
        reply: dict[str, Any] = resp.json()
        assert reply["id"] == self.next_id and reply["jsonrpc"] == "2.0"
        return reply

    async def __call__(self, method: str, *params: Any) -> Any:
        reply = await self.raw(method, *params)
        assert "error" not in reply, reply
        return reply["result"]

    async def error(self, method: str, *params: Any) -> dict[str, Any]:
        reply = await self.raw(method, *params)
        assert "result" not in reply, reply
        err: dict[str, Any] = reply["error"]
        return err


@pytest.fixture
def bank() -> Bank:
    return Bank()


@pytest.fixture
async def rpc(bank: Bank) -> AsyncIterator[Rpc]:
    server = RpcServer(bank, port=0)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
            yield Rpc(client)
    finally:
        await server.stop()


def transfer_tx(bank: Bank, payer: Keypair, to: Pubkey, lamports: int, blockhash: Hash | None = None) -> VersionedTransaction:
    ix = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=to, lamports=lamports))
    msg = Message.new_with_blockhash([ix], payer.pubkey(), blockhash or bank.latest_blockhash()[0])
    return VersionedTransaction(msg, [payer])


def funded(bank: Bank, lamports: int = 10 * SOL) -> Keypair:
    kp = Keypair()
    bank.airdrop(kp.pubkey(), lamports)
    return kp


async def test_account_reads_match_documented_shapes(bank: Bank, rpc: Rpc) -> None:
    kp = funded(bank, 3 * SOL)
    info = await rpc("getAccountInfo", str(kp.pubkey()), {"encoding": "base58"})
    assert_shape(info, doc_result("getAccountInfo"))
    assert info["value"]["lamports"] == 3 * SOL and info["value"]["data"] == ["", "base58"]
    assert info["context"]["slot"] == bank.slot

    missing = await rpc("getAccountInfo", str(Keypair().pubkey()), {"encoding": "base64"})
    assert missing["value"] is None

    many = await rpc("getMultipleAccounts", [str(kp.pubkey()), str(Keypair().pubkey())], {"encoding": "base64"})
    assert_shape(many, doc_result("getMultipleAccounts"))
    assert many["value"][0]["data"] == ["", "base64"] and many["value"][1] is None

    balance = await rpc("getBalance", str(kp.pubkey()))
    assert_shape(balance, doc_result("getBalance"))
    assert balance["value"] == 3 * SOL


async def test_data_slice_encodings_and_program_account_filters(bank: Bank, rpc: Rpc) -> None:
    owner = Keypair().pubkey()
    mint = Keypair().pubkey()
    mint_data = encode_mint(6, 10**12)
    bank.set_account(mint, Account(rent_exempt_minimum(82), mint_data, TOKEN_PROGRAM_ID))
    holders = [Keypair().pubkey() for _ in range(3)]
    for i, h in enumerate(holders):
        data = encode_token_account(mint, owner if i < 2 else h, 1_234_500 * (i + 1))
        bank.set_account(h, Account(rent_exempt_minimum(165), data, TOKEN_PROGRAM_ID))

    info = await rpc("getAccountInfo", str(holders[0]), {"encoding": "base64", "dataSlice": {"offset": 64, "length": 8}})
    assert base64.b64decode(info["value"]["data"][0]) == (1_234_500).to_bytes(8, "little")
    assert info["value"]["space"] == 165

    parsed = await rpc("getAccountInfo", str(holders[1]), {"encoding": "jsonParsed"})
    token_info = parsed["value"]["data"]["parsed"]["info"]
    assert token_info["tokenAmount"] == {"amount": "2469000", "decimals": 6, "uiAmount": 2.469, "uiAmountString": "2.469"}

    too_big = await rpc.error("getAccountInfo", str(holders[0]), {"encoding": "base58"})
    assert too_big["code"] == -32602

    filters = [{"dataSize": 165}, {"memcmp": {"offset": 32, "bytes": str(owner)}}]
    found = await rpc("getProgramAccounts", str(TOKEN_PROGRAM_ID), {"encoding": "base64", "filters": filters})
    assert_shape(found, [{"account": {"data": ["", "base64"], "executable": False, "lamports": 1,
                                      "owner": "", "rentEpoch": 1, "space": 1}, "pubkey": ""}])
    assert sorted(x["pubkey"] for x in found) == sorted(str(h) for h in holders[:2])
    b64_filter = [{"memcmp": {"offset": 32, "bytes": base64.b64encode(bytes(owner)).decode(), "encoding": "base64"}}]
    ctx = await rpc("getProgramAccounts", str(TOKEN_PROGRAM_ID), {"encoding": "base64", "filters": b64_filter, "withContext": True})
    assert len(ctx["value"]) == 2 and ctx["context"]["slot"] == bank.slot
    supply = {"memcmp": {"offset": 36, "bytes": b58encode((10**12).to_bytes(8, "little"))}}
    legacy = await rpc("getProgramAccounts", str(TOKEN_PROGRAM_ID), {"filters": [{"dataSize": 82}, supply]})
    assert legacy == [{"account": {"data": b58encode(mint_data), "executable": False,
                                   "lamports": rent_exempt_minimum(82), "owner": str(TOKEN_PROGRAM_ID),
                                   "rentEpoch": 18446744073709551615, "space": 82}, "pubkey": str(mint)}]

    balance = await rpc("getTokenAccountBalance", str(holders[2]))
    assert_shape(balance, doc_result("getTokenAccountBalance"))
    assert balance["value"]["amount"] == "3703500" and balance["value"]["uiAmountString"] == "3.7035"
    not_token = await rpc.error("getTokenAccountBalance", str(mint))
    assert not_token["code"] == -32602


async def test_protocol_errors_and_batches(rpc: Rpc) -> None:
    client = rpc.client
    parse = (await client.post("/", content=b"{not json")).json()
    assert parse == {"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": None}
    empty = (await client.post("/", json=[])).json()
    assert empty["error"]["code"] == -32600
    bad = (await client.post("/", json={"id": 3, "method": "getSlot"})).json()
    assert bad["error"]["code"] == -32600 and bad["id"] == 3
    assert (await rpc.error("getNoSuchThing"))["code"] == -32601
    assert (await rpc.error("getBalance", "not-a-key"))["code"] == -32602
    keys = [str(Keypair().pubkey()) for _ in range(101)]
    too_many = await rpc.error("getMultipleAccounts", keys)
    assert too_many == {"code": -32602, "message": "Too many inputs provided; max 100"}

    batch = [{"jsonrpc": "2.0", "id": i, "method": m} for i, m in enumerate(["getSlot", "getHealth", "nope"])]
    replies = (await client.post("/", json=batch)).json()
    assert [r["id"] for r in replies] == [0, 1, 2]
    assert isinstance(replies[0]["result"], int) and replies[1]["result"] == "ok"
    assert replies[2]["error"]["code"] == -32601

    health = await client.get("/health")
    assert health.status_code == 200 and health.text == "ok"
    assert (await client.get("/elsewhere")).status_code == 404


async def test_cluster_state_methods_match_documented_shapes(bank: Bank, rpc: Rpc) -> None:
    for method in ("getSlot", "getBlockHeight", "getMinimumBalanceForRentExemption"):
        params = [50] if method == "getMinimumBalanceForRentExemption" else []
        assert isinstance(await rpc(method, *params), int)
    assert await rpc("getMinimumBalanceForRentExemption", 165) == rent_exempt_minimum(165)
    epoch_doc = doc_result("getEpochInfo")
    epoch_doc.pop("transactionCount")  # optional in the node (Option<u64>); the cluster reports null
    assert_shape(await rpc("getEpochInfo"), epoch_doc)
    latest = await rpc("getLatestBlockhash", {"commitment": "processed"})
    assert_shape(latest, doc_result("getLatestBlockhash"))
    assert latest["value"]["blockhash"] == str(bank.latest_blockhash()[0])
    valid = await rpc("isBlockhashValid", latest["value"]["blockhash"], {"commitment": "processed"})
    assert_shape(valid, doc_result("isBlockhashValid"))
    assert valid["value"] is True
    assert (await rpc("isBlockhashValid", str(Hash.new_unique())))["value"] is False
    assert_shape(await rpc("getRecentPrioritizationFees", []), doc_result("getRecentPrioritizationFees"))
    version = await rpc("getVersion")
    assert set(version) == {"solana-core", "feature-set"}
    assert isinstance(await rpc("getGenesisHash"), str)
    assert Pubkey.from_string((await rpc("getIdentity"))["identity"])

    payer = funded(bank)
    msg = Message.new_with_blockhash(
        [transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=Keypair().pubkey(), lamports=1))],
        payer.pubkey(), bank.latest_blockhash()[0],
    )
    fee = await rpc("getFeeForMessage", base64.b64encode(to_bytes_versioned(msg)).decode(), {"commitment": "processed"})
    assert_shape(fee, doc_result("getFeeForMessage"))
    assert fee["value"] == 5000

    slot = bank.slot
    err = await rpc.error("getBalance", str(payer.pubkey()), {"minContextSlot": slot + 5})
    assert err["code"] == -32016 and err["data"] == {"contextSlot": slot}
    assert (await rpc.error("getSlot", {"commitment": "soon"}))["code"] == -32602


async def test_send_confirm_and_get_transaction(bank: Bank, rpc: Rpc) -> None:
    payer = funded(bank, 5 * SOL)
    dest = Keypair().pubkey()
    tx = transfer_tx(bank, payer, dest, SOL)
    sig = await rpc("sendTransaction", b58encode(bytes(tx)))
    assert sig == str(tx.signatures[0])
    tx2 = transfer_tx(bank, payer, dest, 2 * SOL)
    sig2 = await rpc("sendTransaction", base64.b64encode(bytes(tx2)).decode(),
                     {"encoding": "base64", "preflightCommitment": "confirmed", "maxRetries": 0})
    assert (await rpc("getBalance", str(dest)))["value"] == 3 * SOL

    statuses = await rpc("getSignatureStatuses", [sig, sig2, str(Signature.new_unique())],
                         {"searchTransactionHistory": True})
    assert_shape(statuses, doc_result("getSignatureStatuses"))
    first = statuses["value"][0]
    assert first["err"] is None and first["status"] == {"Ok": None}
    assert first["confirmationStatus"] in ("processed", "confirmed", "finalized")
    assert statuses["value"][2] is None

    got = await rpc("getTransaction", sig, {"encoding": "json", "commitment": "confirmed"})
    expected = doc_result("getTransaction")
    assert_shape(got, expected)
    meta = got["meta"]
    assert meta["fee"] == 5000 and meta["err"] is None
    assert meta["preBalances"][0] - meta["postBalances"][0] == SOL + 5000
    assert isinstance(meta["logMessages"], list) and isinstance(meta["computeUnitsConsumed"], int)
    assert got["transaction"]["signatures"] == [sig]
    assert got["transaction"]["message"]["accountKeys"][:2] == [str(payer.pubkey()), str(dest)]
    b64 = await rpc("getTransaction", sig, {"encoding": "base64", "maxSupportedTransactionVersion": 0})
    assert base64.b64decode(b64["transaction"][0]) == bytes(tx) and b64["version"] == "legacy"
    assert await rpc("getTransaction", str(Signature.new_unique()), "json") is None


async def test_preflight_signature_and_simulation_errors(bank: Bank, rpc: Rpc) -> None:
    payer = funded(bank, SOL)
    dest = Keypair().pubkey()
    too_much = transfer_tx(bank, payer, dest, 2 * SOL)
    err = await rpc.error("sendTransaction", base64.b64encode(bytes(too_much)).decode(), {"encoding": "base64"})
    assert err["code"] == -32002
    assert err["message"].startswith("Transaction simulation failed: Error processing Instruction 0")
    assert err["data"]["err"] == {"InstructionError": [0, {"Custom": 1}]}
    assert set(err["data"]) >= {"err", "logs", "accounts", "unitsConsumed", "returnData"}

    sim = await rpc("simulateTransaction", base64.b64encode(bytes(too_much)).decode(), {"encoding": "base64"})
    assert_shape(sim, {"context": {"slot": 1}, "value": {"err": None, "logs": [], "unitsConsumed": 1}})
    assert sim["value"]["err"] == {"InstructionError": [0, {"Custom": 1}]}
    assert sim["value"]["logs"]

    good = transfer_tx(bank, payer, dest, SOL // 100)
    sim = await rpc("simulateTransaction", base64.b64encode(bytes(good)).decode(),
                    {"encoding": "base64", "sigVerify": True})
    assert sim["value"]["err"] is None and sim["value"]["unitsConsumed"] > 0
    assert (await rpc("getBalance", str(dest)))["value"] == 0  # simulation changed nothing

    stale = transfer_tx(bank, payer, dest, SOL // 100, blockhash=Hash.new_unique())
    stale_b64 = base64.b64encode(bytes(stale)).decode()
    err = await rpc.error("sendTransaction", stale_b64, {"encoding": "base64"})
    assert err["code"] == -32002 and err["data"]["err"] == "BlockhashNotFound"
    assert err["message"] == "Transaction simulation failed: Blockhash not found"
    replaced = await rpc("simulateTransaction", stale_b64, {"encoding": "base64", "replaceRecentBlockhash": True})
    assert replaced["value"]["err"] is None
    assert replaced["value"]["replacementBlockhash"]["blockhash"] == str(bank.latest_blockhash()[0])
    both = await rpc.error("simulateTransaction", stale_b64, {"encoding": "base64", "sigVerify": True,
                                                              "replaceRecentBlockhash": True})
    assert both["code"] == -32602
    # skipPreflight: the node answers the signature, the transaction is simply dropped
    assert await rpc("sendTransaction", stale_b64, {"encoding": "base64", "skipPreflight": True}) == str(stale.signatures[0])
    assert (await rpc("getSignatureStatuses", [str(stale.signatures[0])]))["value"] == [None]

    forged = bytearray(bytes(good))
    forged[1] ^= 0xFF  # corrupt the signature
    err = await rpc.error("sendTransaction", base64.b64encode(bytes(forged)).decode(),
                          {"encoding": "base64", "skipPreflight": True})
    assert err == {"code": -32003, "message": "Transaction signature verification failure"}
    garbage = await rpc.error("sendTransaction", base64.b64encode(b"\x01\x02").decode(), {"encoding": "base64"})
    assert garbage["code"] == -32602


async def test_airdrop_and_pipelined_keep_alive(bank: Bank, rpc: Rpc) -> None:
    who = Keypair().pubkey()
    sig = await rpc("requestAirdrop", str(who), 7 * SOL)
    assert Signature.from_string(sig)
    assert (await rpc("getBalance", str(who)))["value"] == 7 * SOL

    # raw keep-alive connection with two pipelined requests in one write
    host, port = rpc.client.base_url.host, rpc.client.base_url.port
    reader, writer = await asyncio.open_connection(host, port)
    body = b'{"jsonrpc":"2.0","id":1,"method":"getHealth"}'
    request = b"POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
    writer.write(request * 2)
    await writer.drain()
    for _ in range(2):
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        assert json.loads(await reader.readexactly(length))["result"] == "ok"
    writer.close()
    await writer.wait_closed()
