"""Typed errors of the RPC and PubSub edge.

Every failure of an HTTP JSON-RPC call or a WebSocket PubSub connection surfaces as one of
these; httpx, websockets and orjson exceptions never leak (they are chained with ``from``)::

    RpcError (SolarbError)
     ├── RpcTransportError (Retryable)    connect refused/reset, HTTP 5xx without a JSON-RPC body
     ├── RpcTimeout (Retryable)           connect/read/write/pool phase took too long
     ├── RpcRateLimited (Retryable)       HTTP 429; ``retry_after`` from the Retry-After header
     ├── RpcNodeUnhealthy (Retryable)     node behind/unhealthy: HTTP 502/503/504, -32005, -32016...
     ├── RpcAuthError (Fatal)             HTTP 401/403: the endpoint URL or key is wrong
     ├── RpcProtocolError                 garbled reply: bad JSON, missing fields, wrong types
     ├── RpcResponseError                 a JSON-RPC error object (``code``, ``message``, ``data``)
     │    ├── SimulationFailed (Rejected)      -32002 preflight failure; ``err``, ``logs``
     │    ├── BlockhashNotFound (Retryable)    -32002, err "BlockhashNotFound": rebuild, resend
     │    ├── TransactionRejected (Rejected)   -32003 bad signature, -32013 bad signature length
     │    └── InvalidParams                    -32602 (e.g. "could not find account")
     ├── FeedDisconnected (Retryable)     PubSub socket closed, refused or silent; reconnect
     └── FeedProtocolError                a garbled PubSub frame (counted and skipped by the reader)

Use :func:`error_from_object` to map a JSON-RPC ``error`` object to the most specific class.
"""

from __future__ import annotations

from typing import Any

from solarb.errors import Fatal, Rejected, Retryable, SolarbError

# JSON-RPC codes that mean "this node cannot answer right now; another node or a retry might".
NODE_UNHEALTHY_CODES = frozenset(
    {
        -32004,  # block not available for slot
        -32005,  # node is unhealthy / behind
        -32007,  # slot skipped or missing due to ledger jump
        -32009,  # slot skipped or missing in long-term storage
        -32014,  # block status not yet available
        -32016,  # minimum context slot has not been reached
    }
)


class RpcError(SolarbError):
    """Base of every RPC/PubSub edge error."""


class RpcTransportError(RpcError, Retryable):
    """The request did not get a usable HTTP answer (refused, reset, 5xx). ``status`` if any."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, retry_after)
        self.status = status


class RpcTimeout(RpcError, Retryable):
    """A phase of the request (connect, write, read, pool) exceeded its timeout.

    For ``sendTransaction`` a read timeout is ambiguous: the transaction may have landed.
    """


class RpcRateLimited(RpcError, Retryable):
    """HTTP 429. ``retry_after`` (seconds) comes from the Retry-After header when present."""


class RpcNodeUnhealthy(RpcError, Retryable):
    """The node is behind or unhealthy; ``code``/``data`` are set when it said so in JSON-RPC."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        data: Any = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, retry_after)
        self.code = code
        self.data = data
        self.status = status


class RpcAuthError(RpcError, Fatal):
    """HTTP 401/403: the endpoint refuses us; retrying will not help."""


class RpcProtocolError(RpcError):
    """A reply that is not the JSON-RPC shape we expect (never a KeyError/TypeError)."""


class RpcResponseError(RpcError):
    """A JSON-RPC error object returned by the node."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"RPC error {code}: {message}")
        self.code = code
        self.message = message
        self.data = data
        self.retry_after: float | None = None


def _sim_fields(data: Any) -> tuple[Any, tuple[str, ...], int | None]:
    """(err, logs, unitsConsumed) from a -32002 ``data`` object, tolerating odd shapes."""
    if not isinstance(data, dict):
        return None, (), None
    logs = data.get("logs")
    units = data.get("unitsConsumed")
    return (
        data.get("err"),
        tuple(x for x in logs if isinstance(x, str)) if isinstance(logs, list) else (),
        units if isinstance(units, int) else None,
    )


class SimulationFailed(RpcResponseError, Rejected):
    """-32002: preflight simulation failed; ``err`` (TransactionError), ``logs``, units."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(code, message, data)
        self.err, self.logs, self.units_consumed = _sim_fields(data)


class BlockhashNotFound(RpcResponseError, Retryable):
    """-32002 with err "BlockhashNotFound": the blockhash expired or is unknown; rebuild."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(code, message, data)
        self.err, self.logs, self.units_consumed = _sim_fields(data)


class TransactionRejected(RpcResponseError, Rejected):
    """-32003/-32013: the node rejected the transaction (signature verification, bad length)."""


class InvalidParams(RpcResponseError):
    """-32602: invalid params, including "could not find account" for token balances."""


class FeedDisconnected(RpcError, Retryable):
    """The PubSub connection is gone (closed, refused, ping timeout, silent); reconnect."""


class FeedProtocolError(RpcError):
    """A PubSub frame that is not valid JSON-RPC; the reader counts it and skips it."""


def error_from_object(obj: Any) -> RpcError:
    """Map a JSON-RPC ``error`` object to the most specific :class:`RpcError` (never raises)."""
    if not isinstance(obj, dict):
        return RpcProtocolError(f"error object is not an object: {obj!r:.200}")
    code, message, data = obj.get("code"), obj.get("message"), obj.get("data")
    if not isinstance(code, int) or isinstance(code, bool) or not isinstance(message, str):
        return RpcProtocolError(f"malformed error object: {obj!r:.200}")
    if code in NODE_UNHEALTHY_CODES:
        return RpcNodeUnhealthy(f"RPC error {code}: {message}", code=code, data=data)
    if code == -32002:
        if isinstance(data, dict) and data.get("err") == "BlockhashNotFound":
            return BlockhashNotFound(code, message, data)
        return SimulationFailed(code, message, data)
    if code in (-32003, -32013):
        return TransactionRejected(code, message, data)
    if code == -32602:
        return InvalidParams(code, message, data)
    return RpcResponseError(code, message, data)


__all__ = [
    "NODE_UNHEALTHY_CODES",
    "BlockhashNotFound",
    "FeedDisconnected",
    "FeedProtocolError",
    "InvalidParams",
    "RpcAuthError",
    "RpcError",
    "RpcNodeUnhealthy",
    "RpcProtocolError",
    "RpcRateLimited",
    "RpcResponseError",
    "RpcTimeout",
    "RpcTransportError",
    "SimulationFailed",
    "TransactionRejected",
    "error_from_object",
]
