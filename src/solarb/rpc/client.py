"""JSON-RPC client for a Solana node: request ids, typed errors, checked reply shapes.

:class:`RpcClient` speaks JSON-RPC over a :class:`~solarb.rpc.transport.Transport` (one async
``request(body) -> bytes``). It encodes with orjson, matches reply ids, turns JSON-RPC error
objects into typed errors (:func:`~solarb.rpc.errors.error_from_object`) and validates every
reply field the typed helpers read: a garbled reply raises ``RpcProtocolError``, never
``KeyError``/``TypeError``. Account data is requested as base64 and decoded once here.
"""

from __future__ import annotations

import asyncio
import binascii
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from pybase64 import b64decode
from solders.hash import Hash
from solders.pubkey import Pubkey
from solders.signature import Signature

from solarb.events import AccountUpdate
from solarb.native.slots import frozen_maker
from solarb.rpc.errors import InvalidParams, RpcError, RpcProtocolError, error_from_object

if TYPE_CHECKING:
    from solarb.rpc.transport import Transport

#: Max keys per getMultipleAccounts request (the RPC node's limit).
MAX_MULTIPLE_ACCOUNTS = 100
#: Max signatures per getSignatureStatuses request (the RPC node's limit).
MAX_SIGNATURE_STATUSES = 256

PubkeyLike = Pubkey | str
SignatureLike = Signature | str


@dataclass(slots=True, frozen=True)
class SimulationResult:
    """What ``simulateTransaction`` said: ``err`` is None on success (else the TransactionError)."""

    err: Any
    logs: tuple[str, ...]
    units_consumed: int | None
    slot: int = 0


# ---------------------------------------------------------------- shape checks (pure helpers)


def _int(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise RpcProtocolError(f"{what}: expected integer, got {value!r:.100}")
    return value


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise RpcProtocolError(f"{what}: expected string, got {value!r:.100}")
    return value


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RpcProtocolError(f"{what}: expected object, got {value!r:.100}")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise RpcProtocolError(f"{what}: expected array, got {value!r:.100}")
    return value


def context_value(result: Any, what: str) -> tuple[int, Any]:
    """Split an ``{"context": {"slot": n}, "value": v}`` result into ``(n, v)``."""
    res = _dict(result, what)
    ctx = _dict(res.get("context"), f"{what}.context")
    if "value" not in res:
        raise RpcProtocolError(f"{what}: missing value")
    return _int(ctx.get("slot"), f"{what}.context.slot"), res["value"]


_OWNERS: dict[str, Pubkey] = {}  # few distinct owners (programs): parse each once


def _pubkey(text: Any, what: str) -> Pubkey:
    key = _str(text, what)
    pk = _OWNERS.get(key)
    if pk is None:
        try:
            pk = Pubkey.from_string(key)
        except ValueError as e:
            raise RpcProtocolError(f"{what}: bad pubkey {key!r:.60}") from e
        if len(_OWNERS) < 4096:
            _OWNERS[key] = pk
    return pk


_new_update = frozen_maker(AccountUpdate)


def decode_account(
    pubkey: Pubkey, value: Any, slot: int, ts_recv_ns: int, what: str = "account"
) -> AccountUpdate | None:
    """Build an AccountUpdate from a base64-encoded RPC/PubSub account object (None -> None).

    Every feed decodes each notification here: a well-formed object takes one pass (SIMD base64,
    owners parsed once); anything else goes through the checks that raise the exact
    :class:`RpcProtocolError`. An AccountUpdate (decoded from the frame by
    :class:`~solarb.rpc.ws.PubSubConnection`'s fast reader) is returned as it is."""
    if type(value) is AccountUpdate:
        return value
    if type(value) is dict:
        data = value.get("data")
        lamports = value.get("lamports")
        owner_text = value.get("owner")
        owner = _OWNERS.get(owner_text) if type(owner_text) is str else None
        if (owner is not None and type(data) is list and len(data) == 2 and data[1] == "base64"
                and type(lamports) is int and type(data[0]) is str):
            try:
                raw = b64decode(data[0], validate=True)
            except ValueError:  # bad base64: reported by the checked path below
                pass
            else:
                return _new_update(pubkey, slot, raw, owner, lamports, ts_recv_ns)
    if value is None:
        return None
    v = _dict(value, what)
    data = _list(v.get("data"), f"{what}.data")
    if len(data) != 2 or data[1] != "base64":
        raise RpcProtocolError(f"{what}.data: expected [b64, 'base64'], got {data!r:.100}")
    try:
        raw = binascii.a2b_base64(_str(data[0], f"{what}.data[0]"), strict_mode=True)
    except ValueError as e:  # binascii.Error, or non-ASCII text
        raise RpcProtocolError(f"{what}.data: bad base64") from e
    return AccountUpdate(
        pubkey=pubkey,
        slot=slot,
        data=raw,
        owner=_pubkey(v.get("owner"), f"{what}.owner"),
        lamports=_int(v.get("lamports"), f"{what}.lamports"),
        ts_recv_ns=ts_recv_ns,
    )


# ---------------------------------------------------------------- the client


class RpcClient:
    """Solana JSON-RPC client over a Transport (or an HTTP URL, wrapped in HttpTransport).

    ``commitment`` is the default for every read and for preflight. All methods raise
    :class:`~solarb.rpc.errors.RpcError` subclasses only.
    """

    def __init__(self, transport_or_url: Transport | str, *, commitment: str = "confirmed") -> None:
        if isinstance(transport_or_url, str):
            # imported here: httpx stays out of processes that only decode (feeds, bench replay)
            from solarb.rpc.transport import HttpTransport

            self.transport: Transport = HttpTransport(transport_or_url)
        else:
            self.transport = transport_or_url
        self.commitment = commitment
        self._ids = itertools.count(1)

    async def __aenter__(self) -> RpcClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the transport if it can be closed."""
        close = getattr(self.transport, "aclose", None)
        if close is not None:
            await close()

    # ------------------------------------------------------------ raw calls

    async def call(self, method: str, params: list[Any] | None = None) -> Any:
        """Send one request and return its ``result``; raise the typed error of an error reply."""
        req_id = next(self._ids)
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": req_id, "method": method}
        if params is not None:
            msg["params"] = params
        reply = self._loads(await self.transport.request(orjson.dumps(msg)), method)
        outcome = self._outcome(reply, req_id, method)
        if isinstance(outcome, RpcError):
            raise outcome
        return outcome

    async def batch(self, calls: Sequence[tuple[str, list[Any] | None]]) -> list[Any]:
        """Send ``(method, params)`` calls as one JSON-RPC batch; results in the same order.

        A call that failed on the node yields its :class:`RpcError` *instance* in its slot (not
        raised), so one bad call does not lose the others. A garbled or incomplete batch reply
        raises RpcProtocolError.
        """
        if not calls:
            return []
        ids = [next(self._ids) for _ in calls]
        body = []
        for req_id, (method, params) in zip(ids, calls, strict=True):
            msg: dict[str, Any] = {"jsonrpc": "2.0", "id": req_id, "method": method}
            if params is not None:
                msg["params"] = params
            body.append(msg)
        raw = await self.transport.request(orjson.dumps(body))
        reply = _list(self._loads(raw, "batch"), "batch")
        by_id: dict[int, Any] = {}
        for item in reply:
            if isinstance(item, dict) and isinstance(item.get("id"), int):
                by_id[item["id"]] = item
            elif isinstance(item, dict) and "error" in item:
                raise error_from_object(item["error"])  # id-less error: the batch as a whole failed
            else:
                raise RpcProtocolError(f"batch: malformed item {item!r:.100}")
        out: list[Any] = []
        for req_id, (method, _) in zip(ids, calls, strict=True):
            if req_id not in by_id:
                raise RpcProtocolError(f"batch: no reply for id {req_id} ({method})")
            out.append(self._outcome(by_id[req_id], req_id, method))
        return out

    @staticmethod
    def _loads(raw: bytes, method: str) -> Any:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise RpcProtocolError(f"{method}: reply is not JSON: {raw[:120]!r}") from e

    @staticmethod
    def _outcome(reply: Any, req_id: int, method: str) -> Any:
        """The result of one reply object, or the RpcError it carries (returned, not raised)."""
        if not isinstance(reply, dict):
            return RpcProtocolError(f"{method}: reply is not an object: {reply!r:.100}")
        if "error" in reply and reply["error"] is not None:
            if reply.get("id") not in (req_id, None):
                return RpcProtocolError(f"{method}: reply id {reply.get('id')!r} != {req_id}")
            return error_from_object(reply["error"])
        if reply.get("id") != req_id:
            return RpcProtocolError(f"{method}: reply id {reply.get('id')!r} != {req_id}")
        if "result" not in reply:
            return RpcProtocolError(f"{method}: reply has neither result nor error")
        return reply["result"]

    def _cfg(self, commitment: str | None, **extra: Any) -> dict[str, Any]:
        cfg: dict[str, Any] = {"commitment": commitment or self.commitment}
        cfg.update(extra)
        return cfg

    # ------------------------------------------------------------ accounts

    async def get_multiple_accounts(
        self, pubkeys: Sequence[Pubkey], *, commitment: str | None = None
    ) -> tuple[int, list[AccountUpdate | None]]:
        """Fetch accounts (base64) in chunks of 100, concurrently; None for missing accounts.

        Returns ``(slot, updates)`` in input order. Each update carries its own chunk's context
        slot; the returned slot is the lowest of them (all data is at least that fresh).
        """
        if not pubkeys:
            return 0, []
        cfg = self._cfg(commitment, encoding="base64")
        chunks = [
            pubkeys[i : i + MAX_MULTIPLE_ACCOUNTS]
            for i in range(0, len(pubkeys), MAX_MULTIPLE_ACCOUNTS)
        ]
        results = await asyncio.gather(
            *(self.call("getMultipleAccounts", [[str(k) for k in c], cfg]) for c in chunks)
        )
        ts = time.monotonic_ns()
        slots: list[int] = []
        out: list[AccountUpdate | None] = []
        for chunk, result in zip(chunks, results, strict=True):
            slot, value = context_value(result, "getMultipleAccounts")
            values = _list(value, "getMultipleAccounts.value")
            if len(values) != len(chunk):
                raise RpcProtocolError(
                    f"getMultipleAccounts: {len(values)} values for {len(chunk)} keys"
                )
            slots.append(slot)
            for pk, v in zip(chunk, values, strict=True):
                out.append(decode_account(pk, v, slot, ts, "getMultipleAccounts.value[]"))
        return min(slots), out

    async def get_account(
        self, pubkey: Pubkey, *, commitment: str | None = None
    ) -> AccountUpdate | None:
        """One account (base64) at its context slot, or None if it does not exist."""
        result = await self.call(
            "getAccountInfo", [str(pubkey), self._cfg(commitment, encoding="base64")]
        )
        slot, value = context_value(result, "getAccountInfo")
        return decode_account(pubkey, value, slot, time.monotonic_ns(), "getAccountInfo.value")

    async def get_balance(self, pubkey: PubkeyLike, *, commitment: str | None = None) -> int:
        """Lamports held by ``pubkey`` (0 if the account does not exist)."""
        result = await self.call("getBalance", [str(pubkey), self._cfg(commitment)])
        _, value = context_value(result, "getBalance")
        return _int(value, "getBalance.value")

    async def get_token_account_balance(
        self, pubkey: PubkeyLike, *, commitment: str | None = None
    ) -> int | None:
        """Base-unit amount of an SPL token account; None if the account does not exist."""
        try:
            result = await self.call("getTokenAccountBalance", [str(pubkey), self._cfg(commitment)])
        except InvalidParams as e:
            if "could not find account" in e.message.lower():
                return None
            raise
        _, value = context_value(result, "getTokenAccountBalance")
        amount = _str(_dict(value, "getTokenAccountBalance.value").get("amount"), "amount")
        if not amount.isdigit():
            raise RpcProtocolError(f"getTokenAccountBalance: bad amount {amount!r:.40}")
        return int(amount)

    async def get_minimum_balance_for_rent_exemption(self, data_len: int) -> int:
        """Lamports an account of ``data_len`` bytes needs to be rent-exempt."""
        result = await self.call("getMinimumBalanceForRentExemption", [data_len])
        return _int(result, "getMinimumBalanceForRentExemption")

    # ------------------------------------------------------------ cluster

    async def get_latest_blockhash(self, *, commitment: str | None = None) -> tuple[Hash, int]:
        """``(blockhash, last_valid_block_height)``."""
        result = await self.call("getLatestBlockhash", [self._cfg(commitment)])
        _, value = context_value(result, "getLatestBlockhash")
        v = _dict(value, "getLatestBlockhash.value")
        text = _str(v.get("blockhash"), "blockhash")
        try:
            blockhash = Hash.from_string(text)
        except ValueError as e:
            raise RpcProtocolError(f"getLatestBlockhash: bad blockhash {text!r:.60}") from e
        return blockhash, _int(v.get("lastValidBlockHeight"), "lastValidBlockHeight")

    async def get_block_height(self, *, commitment: str | None = None) -> int:
        """Current block height."""
        return _int(await self.call("getBlockHeight", [self._cfg(commitment)]), "getBlockHeight")

    async def get_slot(self, *, commitment: str | None = None) -> int:
        """Current slot."""
        return _int(await self.call("getSlot", [self._cfg(commitment)]), "getSlot")

    async def get_health(self) -> None:
        """Return if the node reports "ok"; raise RpcNodeUnhealthy (-32005) otherwise."""
        result = await self.call("getHealth")
        if result != "ok":
            raise RpcProtocolError(f"getHealth: unexpected result {result!r:.60}")

    # ------------------------------------------------------------ transactions

    async def send_transaction(
        self,
        raw: bytes,
        *,
        skip_preflight: bool = True,
        max_retries: int | None = 0,
        preflight_commitment: str | None = None,
    ) -> str:
        """Submit a signed, serialized transaction (base64); return its signature (base58).

        With preflight on, a failed simulation raises SimulationFailed (or BlockhashNotFound).
        """
        cfg: dict[str, Any] = {
            "encoding": "base64",
            "skipPreflight": skip_preflight,
            "preflightCommitment": preflight_commitment or self.commitment,
        }
        if max_retries is not None:
            cfg["maxRetries"] = max_retries
        result = await self.call(
            "sendTransaction", [binascii.b2a_base64(raw, newline=False).decode(), cfg]
        )
        return _str(result, "sendTransaction")

    async def simulate_transaction(
        self,
        raw: bytes,
        *,
        sig_verify: bool = False,
        replace_recent_blockhash: bool = False,
        commitment: str | None = None,
    ) -> SimulationResult:
        """Simulate a serialized transaction; a failing transaction is a result, not an error."""
        cfg = self._cfg(
            commitment,
            encoding="base64",
            sigVerify=sig_verify,
            replaceRecentBlockhash=replace_recent_blockhash,
        )
        result = await self.call(
            "simulateTransaction", [binascii.b2a_base64(raw, newline=False).decode(), cfg]
        )
        slot, value = context_value(result, "simulateTransaction")
        v = _dict(value, "simulateTransaction.value")
        logs = v.get("logs")
        units = v.get("unitsConsumed")
        return SimulationResult(
            err=v.get("err"),
            logs=tuple(_str(x, "logs[]") for x in _list(logs, "logs")) if logs is not None else (),
            units_consumed=None if units is None else _int(units, "unitsConsumed"),
            slot=slot,
        )

    async def get_signature_statuses(
        self, signatures: Sequence[SignatureLike], *, search_transaction_history: bool = False
    ) -> list[dict[str, Any] | None]:
        """Status object (slot, confirmations, err, confirmationStatus) per signature, or None."""
        out: list[dict[str, Any] | None] = []
        for i in range(0, len(signatures), MAX_SIGNATURE_STATUSES):
            chunk = [str(s) for s in signatures[i : i + MAX_SIGNATURE_STATUSES]]
            result = await self.call(
                "getSignatureStatuses",
                [chunk, {"searchTransactionHistory": search_transaction_history}],
            )
            _, value = context_value(result, "getSignatureStatuses")
            values = _list(value, "getSignatureStatuses.value")
            if len(values) != len(chunk):
                raise RpcProtocolError(f"getSignatureStatuses: {len(values)} for {len(chunk)}")
            for v in values:
                if v is not None:
                    _dict(v, "getSignatureStatuses.value[]")
                out.append(v)
        return out

    async def get_transaction(
        self, signature: SignatureLike, *, commitment: str | None = None
    ) -> dict[str, Any] | None:
        """The confirmed transaction (json encoding, v0 supported), or None if not found."""
        c = commitment or self.commitment
        cfg = {
            "encoding": "json",
            "maxSupportedTransactionVersion": 0,
            "commitment": "confirmed" if c == "processed" else c,  # processed is not allowed
        }
        result = await self.call("getTransaction", [str(signature), cfg])
        return None if result is None else _dict(result, "getTransaction")

    async def request_airdrop(self, pubkey: PubkeyLike, lamports: int) -> str:
        """Ask the cluster's faucet for ``lamports``; return the airdrop transaction signature."""
        result = await self.call(
            "requestAirdrop", [str(pubkey), lamports, {"commitment": self.commitment}]
        )
        return _str(result, "requestAirdrop")


__all__ = [
    "MAX_MULTIPLE_ACCOUNTS",
    "MAX_SIGNATURE_STATUSES",
    "RpcClient",
    "SimulationResult",
    "context_value",
    "decode_account",
]
