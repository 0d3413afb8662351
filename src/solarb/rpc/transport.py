"""The one-method seam between the JSON-RPC client and the network.

:class:`Transport` takes an encoded JSON-RPC request body and returns the raw reply body. The
client above it knows JSON-RPC; the transport knows only HTTP (or, later, a pool of endpoints
with health checks and hedging, which implements the same method).

:class:`HttpTransport` keeps one persistent ``httpx.AsyncClient`` (keep-alive, bounded pool,
per-phase timeouts) and maps every httpx failure and unusable HTTP status to a typed error of
:mod:`solarb.rpc.errors`.
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import Protocol, runtime_checkable

import httpx

from solarb.rpc.errors import (
    RpcAuthError,
    RpcNodeUnhealthy,
    RpcProtocolError,
    RpcRateLimited,
    RpcTimeout,
    RpcTransportError,
)

#: Per-phase defaults: fail fast on connect/pool, allow slow large reads (getMultipleAccounts).
DEFAULT_TIMEOUT = httpx.Timeout(connect=2.0, read=10.0, write=5.0, pool=2.0)
_JSON_HEADERS = {"content-type": "application/json", "accept": "application/json"}


@runtime_checkable
class Transport(Protocol):
    """Sends one encoded JSON-RPC body (single or batch) and returns the raw reply body."""

    async def request(self, body: bytes) -> bytes:
        """Return the reply body; raise an :class:`~solarb.rpc.errors.RpcError` on failure."""
        ...


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or HTTP-date); None if absent/bad."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        # Wall clock is right here: the header is a wall-clock date.
        seconds = when.timestamp() - time.time()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def _snippet(content: bytes) -> str:
    return content[:200].decode("utf-8", "replace")


class HttpTransport:
    """JSON-RPC over HTTP POST to one URL, on a persistent, bounded httpx connection pool.

    ``timeout`` is per phase (connect/read/write/pool). Pass ``transport`` to swap the httpx
    transport (e.g. ``httpx.MockTransport``) without touching the client.

    Raises: RpcTimeout, RpcTransportError (connect/reset/5xx), RpcRateLimited (429),
    RpcNodeUnhealthy (502/503/504), RpcAuthError (401/403), RpcProtocolError (other non-2xx).
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: httpx.Timeout | float | None = None,
        max_connections: int = 32,
        max_keepalive_connections: int = 16,
        keepalive_expiry: float = 60.0,
        headers: dict[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        limits = httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_keepalive_connections,
            keepalive_expiry=keepalive_expiry,
        )
        self._client = httpx.AsyncClient(
            timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
            limits=limits,
            headers={**_JSON_HEADERS, **(headers or {})},
            transport=transport,
            follow_redirects=False,
        )

    async def request(self, body: bytes) -> bytes:
        """POST ``body`` and return the body of a 2xx reply; typed RpcError otherwise."""
        try:
            resp = await self._client.post(self.url, content=body)
        except httpx.TimeoutException as e:
            raise RpcTimeout(f"{type(e).__name__} talking to {self.url}") from e
        except httpx.TransportError as e:
            raise RpcTransportError(f"{type(e).__name__} talking to {self.url}: {e}") from e
        status = resp.status_code
        if 200 <= status < 300:
            return resp.content
        retry_after = parse_retry_after(resp.headers.get("retry-after"))
        if status == 429:
            raise RpcRateLimited(f"HTTP 429 from {self.url}", retry_after)
        if status in (401, 403):
            raise RpcAuthError(f"HTTP {status} from {self.url}: {_snippet(resp.content)}")
        if status in (502, 503, 504):
            raise RpcNodeUnhealthy(
                f"HTTP {status} from {self.url}", status=status, retry_after=retry_after
            )
        if status >= 500:
            raise RpcTransportError(
                f"HTTP {status} from {self.url}: {_snippet(resp.content)}",
                status=status,
                retry_after=retry_after,
            )
        raise RpcProtocolError(f"HTTP {status} from {self.url}: {_snippet(resp.content)}")

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()


__all__ = ["DEFAULT_TIMEOUT", "HttpTransport", "Transport", "parse_retry_after"]
