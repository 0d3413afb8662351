"""The cluster's JSON-RPC 2.0 over HTTP: real Solana method names, params, shapes and error codes.

:class:`RpcHandler` maps a request body to a response body, synchronously, over a :class:`Bank`
(every method is a pure read or a synchronous bank call, so no request ever awaits).
:class:`RpcServer` serves it on a lean asyncio HTTP/1.1 server (httptools parser, keep-alive,
pipelining, batches, ``GET /health``) in the current event loop.

Errors follow the node: -32700 parse error, -32600 invalid request, -32601 method not found,
-32602 invalid params, -32002 preflight failure (with ``data``), -32003 signature verification
failure, -32015 unsupported transaction version, -32016 minContextSlot not reached.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
from solders.hash import Hash
from solders.message import from_bytes_versioned
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from solarb.dex.spl_token import decode_token_account
from solarb.sim import wire
from solarb.errors import SolarbError
from solarb.sim.accounts import Account
from solarb.sim.http import HttpConnection
from solarb.sim.tx_errors import MalformedTransaction, TransactionFailed
from solarb.sim.wire import RpcRequestError, config_of, invalid_params

__all__ = ["RpcHandler", "RpcServer", "IDENTITY"]

IDENTITY = Pubkey.from_string("LocaL11111111111111111111111111111111111111")
_COMMITMENTS = frozenset({"processed", "confirmed", "finalized", "recent", "single", "singleGossip",
                          "root", "max"})
_MAX_MULTIPLE_ACCOUNTS = 100
_MAX_SIGNATURE_STATUSES = 256
_SLOTS_PER_EPOCH = 432_000

Method = Callable[[Sequence[Any]], Any]


def _error(id_: Any, err: RpcRequestError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "error": err.to_json(), "id": id_}


class RpcHandler:
    """JSON-RPC dispatcher over a Bank. ``handle(body) -> body`` is synchronous and thread-unsafe
    (call it from the event loop that owns the bank)."""

    def __init__(self, bank: Any, *, genesis_hash: str | None = None) -> None:
        self.bank = bank
        self.genesis_hash = genesis_hash or str(
            getattr(bank, "genesis_hash", None) or Hash.hash(b"solarb-local-genesis")
        )
        self.methods: dict[str, Method] = {
            name[4:]: getattr(self, name) for name in dir(self) if name.startswith("rpc_")
        }

    # ---------------------------------------------------------------- dispatch
    def handle(self, body: bytes) -> bytes | None:
        """Serve one HTTP body (single request or batch); None when there is nothing to answer
        (a notification or a batch of notifications)."""
        try:
            request = orjson.loads(body)
        except orjson.JSONDecodeError:
            return orjson.dumps(_error(None, RpcRequestError(wire.PARSE_ERROR, "Parse error")))
        if isinstance(request, list):
            if not request:
                return orjson.dumps(_error(None, RpcRequestError(wire.INVALID_REQUEST, "Invalid request")))
            replies = [r for r in map(self.call, request) if r is not None]
            return orjson.dumps(replies) if replies else None
        reply = self.call(request)
        return None if reply is None else orjson.dumps(reply)

    def call(self, request: Any) -> dict[str, Any] | None:
        """One decoded JSON-RPC request object -> response object (None for a notification)."""
        if not isinstance(request, dict) or request.get("jsonrpc") != "2.0" or not isinstance(
            request.get("method"), str
        ):
            id_ = request.get("id") if isinstance(request, dict) else None
            return _error(id_, RpcRequestError(wire.INVALID_REQUEST, "Invalid request"))
        if "id" not in request:
            return None
        id_ = request["id"]
        method = self.methods.get(request["method"])
        if method is None:
            return _error(id_, RpcRequestError(wire.METHOD_NOT_FOUND, "Method not found"))
        params = request.get("params", [])
        if params is None:
            params = []
        if not isinstance(params, list):
            return _error(id_, invalid_params("Invalid params: invalid type: map, expected a sequence."))
        try:
            result = method(params)
        except RpcRequestError as exc:
            return _error(id_, exc)
        except SolarbError as exc:  # a cluster error the method did not map: still answer
            return _error(id_, RpcRequestError(wire.INTERNAL_ERROR, f"Internal error: {exc}"))
        return {"jsonrpc": "2.0", "result": result, "id": id_}

    # ---------------------------------------------------------------- helpers
    def _context(self, cfg: Mapping[str, Any]) -> dict[str, Any]:
        """Validate commitment/minContextSlot and return the response context."""
        commitment = cfg.get("commitment")
        if commitment is not None and commitment not in _COMMITMENTS:
            raise invalid_params(f"Invalid params: unknown variant `{commitment}`.")
        slot = int(self.bank.slot)
        min_slot = cfg.get("minContextSlot")
        if min_slot is not None:
            if not isinstance(min_slot, int):
                raise invalid_params("Invalid params: minContextSlot must be an integer.")
            if min_slot > slot:
                raise RpcRequestError(
                    wire.MIN_CONTEXT_SLOT_NOT_REACHED,
                    "Minimum context slot has not been reached",
                    {"contextSlot": slot},
                )
        return {"apiVersion": wire.API_VERSION, "slot": slot}

    def _with_context(self, cfg: Mapping[str, Any], value: Any) -> dict[str, Any]:
        return {"context": self._context(cfg), "value": value}

    def _mint_decimals(self, account: Account) -> int | None:
        """Decimals of a token account's mint (for jsonParsed), None if not a token account."""
        return wire.token_mint_decimals(self.bank.get_account, account)

    def _encode(self, account: Account | None, cfg: Mapping[str, Any]) -> dict[str, Any] | None:
        if account is None:
            return None
        encoding = cfg.get("encoding", "binary")
        decimals = self._mint_decimals(account) if encoding == "jsonParsed" else None
        return wire.encode_account(account, encoding, cfg.get("dataSlice"), decimals)

    @staticmethod
    def _arg(params: Sequence[Any], index: int, what: str) -> Any:
        if len(params) <= index:
            raise invalid_params(f"Invalid params: missing {what}.")
        return params[index]

    # ---------------------------------------------------------------- accounts
    def rpc_getAccountInfo(self, params: Sequence[Any]) -> Any:
        key = wire.parse_pubkey(self._arg(params, 0, "pubkey"))
        cfg = config_of(params, 1)
        return self._with_context(cfg, self._encode(self.bank.get_account(key), cfg))

    def rpc_getMultipleAccounts(self, params: Sequence[Any]) -> Any:
        keys = self._arg(params, 0, "pubkeys")
        if not isinstance(keys, list):
            raise invalid_params("Invalid params: expected an array of pubkeys.")
        if len(keys) > _MAX_MULTIPLE_ACCOUNTS:
            raise invalid_params(f"Too many inputs provided; max {_MAX_MULTIPLE_ACCOUNTS}")
        pubkeys = [wire.parse_pubkey(k) for k in keys]
        cfg = config_of(params, 1)
        ctx = self._context(cfg)
        return {"context": ctx, "value": [self._encode(self.bank.get_account(k), cfg) for k in pubkeys]}

    def rpc_getProgramAccounts(self, params: Sequence[Any]) -> Any:
        program = wire.parse_pubkey(self._arg(params, 0, "program id"))
        cfg = config_of(params, 1)
        ctx = self._context(cfg)
        filters = wire.parse_filters(cfg.get("filters"))
        value = [
            {"account": self._encode(acc, cfg), "pubkey": str(key)}
            for key, acc in self.bank.get_program_accounts(program)
            if wire.account_matches(acc.data, filters)
        ]
        return {"context": ctx, "value": value} if cfg.get("withContext") else value

    def rpc_getBalance(self, params: Sequence[Any]) -> Any:
        key = wire.parse_pubkey(self._arg(params, 0, "pubkey"))
        cfg = config_of(params, 1)
        account = self.bank.get_account(key)
        return self._with_context(cfg, account.lamports if account is not None else 0)

    def rpc_getTokenAccountBalance(self, params: Sequence[Any]) -> Any:
        key = wire.parse_pubkey(self._arg(params, 0, "pubkey"))
        cfg = config_of(params, 1)
        ctx = self._context(cfg)
        account = self.bank.get_account(key)
        decimals = self._mint_decimals(account) if account is not None else None
        if account is None or decimals is None:
            raise invalid_params("Invalid param: could not find account")
        amount = decode_token_account(account.data).amount
        return {"context": ctx, "value": wire.ui_token_amount(amount, decimals)}

    def rpc_getMinimumBalanceForRentExemption(self, params: Sequence[Any]) -> Any:
        size = params[0] if params else 0
        if not isinstance(size, int) or size < 0:
            raise invalid_params("Invalid params: data length must be a non-negative integer.")
        self._context(config_of(params, 1))
        return int(self.bank.minimum_balance_for_rent_exemption(size))

    # ---------------------------------------------------------------- cluster state
    def rpc_getSlot(self, params: Sequence[Any]) -> Any:
        return self._context(config_of(params, 0))["slot"]

    def rpc_getBlockHeight(self, params: Sequence[Any]) -> Any:
        self._context(config_of(params, 0))
        return int(self.bank.block_height)

    def rpc_getEpochInfo(self, params: Sequence[Any]) -> Any:
        slot = self._context(config_of(params, 0))["slot"]
        per_epoch = int(getattr(self.bank, "slots_per_epoch", _SLOTS_PER_EPOCH))
        return {
            "absoluteSlot": slot,
            "blockHeight": int(self.bank.block_height),
            "epoch": int(self.bank.epoch),
            "slotIndex": slot % per_epoch,
            "slotsInEpoch": per_epoch,
            "transactionCount": None,
        }

    def rpc_getLatestBlockhash(self, params: Sequence[Any]) -> Any:
        cfg = config_of(params, 0)
        blockhash, last_valid = self.bank.latest_blockhash()
        return self._with_context(
            cfg, {"blockhash": str(blockhash), "lastValidBlockHeight": int(last_valid)}
        )

    def rpc_isBlockhashValid(self, params: Sequence[Any]) -> Any:
        blockhash = wire.parse_hash(self._arg(params, 0, "blockhash"))
        cfg = config_of(params, 1)
        return self._with_context(cfg, bool(self.bank.is_blockhash_valid(blockhash)))

    def rpc_getFeeForMessage(self, params: Sequence[Any]) -> Any:
        raw = wire.decode_binary(self._arg(params, 0, "message"), "base64")
        cfg = config_of(params, 1)
        try:
            message = from_bytes_versioned(raw)
        except ValueError as exc:
            raise invalid_params(f"Invalid params: failed to deserialize message: {exc}") from exc
        ctx = self._context(cfg)
        if not self.bank.is_blockhash_valid(message.recent_blockhash):
            return {"context": ctx, "value": None}
        return {"context": ctx, "value": int(self.bank.fee_for_message(message))}

    def rpc_getRecentPrioritizationFees(self, params: Sequence[Any]) -> Any:
        keys = params[0] if params else []
        if not isinstance(keys, list) or len(keys) > 128:
            raise invalid_params("Too many inputs provided; max 128")
        pubkeys = [wire.parse_pubkey(k) for k in keys]
        recent = getattr(self.bank, "recent_prioritization_fees", None)
        if recent is not None:
            return [{"slot": int(s), "prioritizationFee": int(f)} for s, f in recent(pubkeys)]
        return [{"slot": int(self.bank.slot), "prioritizationFee": 0}]

    def rpc_getVersion(self, params: Sequence[Any]) -> Any:
        return {"feature-set": wire.FEATURE_SET, "solana-core": wire.API_VERSION}

    def rpc_getHealth(self, params: Sequence[Any]) -> Any:
        return "ok"

    def rpc_getGenesisHash(self, params: Sequence[Any]) -> Any:
        return self.genesis_hash

    def rpc_getIdentity(self, params: Sequence[Any]) -> Any:
        return {"identity": str(IDENTITY)}

    # ---------------------------------------------------------------- transactions
    def rpc_requestAirdrop(self, params: Sequence[Any]) -> Any:
        key = wire.parse_pubkey(self._arg(params, 0, "pubkey"))
        lamports = self._arg(params, 1, "lamports")
        if not isinstance(lamports, int) or lamports <= 0:
            raise invalid_params("Invalid params: lamports must be a positive integer.")
        self._context(config_of(params, 2))
        return str(self.bank.airdrop(key, lamports))

    def _decode_tx(self, params: Sequence[Any], cfg: Mapping[str, Any]) -> VersionedTransaction:
        tx = wire.decode_transaction(self._arg(params, 0, "transaction"), cfg.get("encoding", "base58"))
        if not tx.signatures:
            raise invalid_params("invalid transaction: Transaction failed to sanitize accounts offsets correctly")
        return tx

    @staticmethod
    def _verify(tx: VersionedTransaction) -> None:
        if not all(tx.verify_with_results()):
            raise RpcRequestError(
                wire.TX_SIGNATURE_VERIFICATION, "Transaction signature verification failure"
            )

    def _simulate(
        self, tx: VersionedTransaction, *, sig_verify: bool, replace: bool
    ) -> tuple[dict[str, Any], Mapping[Pubkey, Account | None]]:
        """simulateTransaction's ``value`` and the simulated post-state of the message's accounts."""
        try:
            result = self.bank.simulate_transaction(
                tx, sig_verify=sig_verify, replace_recent_blockhash=replace
            )
        except MalformedTransaction as exc:
            raise invalid_params(str(exc)) from exc
        replaced = None
        if result.replacement_blockhash is not None:
            blockhash, last_valid = result.replacement_blockhash
            replaced = {"blockhash": str(blockhash), "lastValidBlockHeight": int(last_valid)}
        return_data = None
        if result.return_data is not None:
            program_id, data = result.return_data
            return_data = {"data": [base64.b64encode(data).decode(), "base64"], "programId": str(program_id)}
        value = {
            "accounts": None,
            "err": result.err,
            "innerInstructions": None,
            "logs": list(result.logs),
            "replacementBlockhash": replaced,
            "returnData": return_data,
            "unitsConsumed": int(result.units_consumed),
        }
        return value, result.accounts or {}

    def rpc_simulateTransaction(self, params: Sequence[Any]) -> Any:
        cfg = config_of(params, 1)
        tx = self._decode_tx(params, cfg)
        sig_verify = bool(cfg.get("sigVerify", False))
        replace = bool(cfg.get("replaceRecentBlockhash", False))
        if sig_verify and replace:
            raise invalid_params("sigVerify may not be used with replaceRecentBlockhash")
        ctx = self._context(cfg)
        if sig_verify:
            self._verify(tx)
        value, post = self._simulate(tx, sig_verify=sig_verify, replace=replace)
        wanted = cfg.get("accounts")
        if isinstance(wanted, dict):
            addresses = [wire.parse_pubkey(a) for a in wanted.get("addresses") or []]
            if len(addresses) > len(tx.message.account_keys):
                raise invalid_params("Too many accounts provided; max "
                                     f"{len(tx.message.account_keys)}")
            acc_cfg = {"encoding": wanted.get("encoding", "base64")}
            value["accounts"] = [
                self._encode(post[k] if k in post else self.bank.get_account(k), acc_cfg)
                for k in addresses
            ]
        return {"context": ctx, "value": value}

    def rpc_sendTransaction(self, params: Sequence[Any]) -> Any:
        cfg = config_of(params, 1)
        tx = self._decode_tx(params, cfg)
        skip_preflight = bool(cfg.get("skipPreflight", False))
        self._verify(tx)
        signature = tx.signatures[0]
        if not skip_preflight:
            self._context({"commitment": cfg.get("preflightCommitment"),
                           "minContextSlot": cfg.get("minContextSlot")})
            value, _ = self._simulate(tx, sig_verify=False, replace=False)
            if value["err"] is None and self.bank.signature_status(signature) is not None:
                value["err"] = "AlreadyProcessed"
            if value["err"] is not None:
                raise self._preflight_failure(value)
        try:
            self.bank.process_transaction(tx)
        except MalformedTransaction as exc:
            raise invalid_params(str(exc)) from exc
        except TransactionFailed as exc:
            if not skip_preflight:  # lost a race with another transaction since preflight
                raise self._preflight_failure(
                    {"accounts": None, "err": exc.err, "innerInstructions": None,
                     "logs": list(exc.logs), "replacementBlockhash": None, "returnData": None,
                     "unitsConsumed": 0}
                ) from exc
            # skipPreflight: the node forwards and answers the signature; the tx is just dropped.
        return str(signature)

    @staticmethod
    def _preflight_failure(value: dict[str, Any]) -> RpcRequestError:
        message = "Transaction simulation failed: " + wire.transaction_error_message(value["err"])
        return RpcRequestError(wire.TX_SIMULATION_FAILED, message, value)

    def rpc_getSignatureStatuses(self, params: Sequence[Any]) -> Any:
        sigs = self._arg(params, 0, "signatures")
        if not isinstance(sigs, list):
            raise invalid_params("Invalid params: expected an array of signatures.")
        if len(sigs) > _MAX_SIGNATURE_STATUSES:
            raise invalid_params(f"Too many inputs provided; max {_MAX_SIGNATURE_STATUSES}")
        signatures = [wire.parse_signature(s) for s in sigs]
        ctx = self._context(config_of(params, 1))
        value = []
        for sig in signatures:
            st = self.bank.signature_status(sig)
            if st is None:
                value.append(None)
                continue
            value.append({
                "confirmationStatus": st.confirmation_status,
                "confirmations": st.confirmations,
                "err": st.err,
                "slot": int(st.slot),
                "status": wire.status_of(st.err),
            })
        return {"context": ctx, "value": value}

    def rpc_getTransaction(self, params: Sequence[Any]) -> Any:
        sig = wire.parse_signature(self._arg(params, 0, "signature"))
        raw_cfg = params[1] if len(params) > 1 else None
        cfg: Mapping[str, Any] = {"encoding": raw_cfg} if isinstance(raw_cfg, str) else config_of(params, 1)
        encoding = cfg.get("encoding", "json")
        if encoding not in ("json", "base64", "base58", "jsonParsed"):
            raise invalid_params(f"Invalid params: unsupported encoding {encoding!r}.")
        commitment = cfg.get("commitment")
        if commitment == "processed":
            raise invalid_params("Method does not support commitment below `confirmed`")
        self._context({"commitment": commitment})
        details = self.bank.transaction(sig)
        if details is None:
            return None
        return wire.encode_transaction(details, encoding, cfg.get("maxSupportedTransactionVersion"))


class _HttpProtocol(HttpConnection):
    """One HTTP/1.1 connection of an :class:`RpcServer`."""

    def __init__(self, server: RpcServer) -> None:
        super().__init__(server._connections)
        self._server = server

    def on_request(self, method: bytes, path: bytes, body: bytes, keep_alive: bool) -> None:
        if method == b"POST" and path in (b"/", b""):
            reply = self._server.handler.handle(body)
            self.reply(200, reply or b"", keep_alive=keep_alive)
        elif method == b"GET" and path == b"/health":
            self.reply(200, b"ok", keep_alive=keep_alive, content_type=b"text/plain")
        elif path in (b"/", b""):
            self.reply(405, b"Used HTTP Method is not allowed. POST or OPTIONS is required",
                       keep_alive=keep_alive)
        else:
            self.reply(404, b"Not Found", keep_alive=keep_alive)


class RpcServer:
    """HTTP JSON-RPC server over ``bank`` on ``host:port`` (0 = ephemeral) in the running loop."""

    def __init__(self, bank: Any, *, host: str = "127.0.0.1", port: int = 0,
                 handler: RpcHandler | None = None) -> None:
        self.handler = handler or RpcHandler(bank)
        self.host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._connections: set[HttpConnection] = set()

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        return self._port

    @property
    def url(self) -> str:
        """``http://host:port``."""
        return f"http://{self.host}:{self._port}"

    async def start(self) -> None:
        """Bind and start accepting connections."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _HttpProtocol(self), self.host, self._port, reuse_address=True
        )
        self._port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop accepting, close every connection, and wait until the listener is closed."""
        if self._server is None:
            return
        self._server.close()
        for conn in list(self._connections):
            conn.close()
        await self._server.wait_closed()
        self._server = None
