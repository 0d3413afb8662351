"""The network edge: JSON-RPC client over a one-method Transport, PubSub, typed errors.

Names are imported on first use (PEP 562), so importing one submodule does not load the others
(and their network stacks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from solarb.lazy import lazy_exports

if TYPE_CHECKING:
    from solarb.rpc.client import RpcClient, SimulationResult
    from solarb.rpc.errors import (
        BlockhashNotFound,
        FeedDisconnected,
        FeedProtocolError,
        InvalidParams,
        RpcAuthError,
        RpcError,
        RpcNodeUnhealthy,
        RpcProtocolError,
        RpcRateLimited,
        RpcResponseError,
        RpcTimeout,
        RpcTransportError,
        SimulationFailed,
        TransactionRejected,
    )
    from solarb.rpc.transport import HttpTransport, Transport
    from solarb.rpc.ws import PubSubConnection, wait_for_signature

__all__ = [
    "BlockhashNotFound",
    "FeedDisconnected",
    "FeedProtocolError",
    "HttpTransport",
    "InvalidParams",
    "PubSubConnection",
    "RpcAuthError",
    "RpcClient",
    "RpcError",
    "RpcNodeUnhealthy",
    "RpcProtocolError",
    "RpcRateLimited",
    "RpcResponseError",
    "RpcTimeout",
    "RpcTransportError",
    "SimulationFailed",
    "SimulationResult",
    "TransactionRejected",
    "Transport",
    "wait_for_signature",
]

_EXPORTS: dict[str, str] = {
    "BlockhashNotFound": "solarb.rpc.errors",
    "FeedDisconnected": "solarb.rpc.errors",
    "FeedProtocolError": "solarb.rpc.errors",
    "HttpTransport": "solarb.rpc.transport",
    "InvalidParams": "solarb.rpc.errors",
    "PubSubConnection": "solarb.rpc.ws",
    "RpcAuthError": "solarb.rpc.errors",
    "RpcClient": "solarb.rpc.client",
    "RpcError": "solarb.rpc.errors",
    "RpcNodeUnhealthy": "solarb.rpc.errors",
    "RpcProtocolError": "solarb.rpc.errors",
    "RpcRateLimited": "solarb.rpc.errors",
    "RpcResponseError": "solarb.rpc.errors",
    "RpcTimeout": "solarb.rpc.errors",
    "RpcTransportError": "solarb.rpc.errors",
    "SimulationFailed": "solarb.rpc.errors",
    "SimulationResult": "solarb.rpc.client",
    "TransactionRejected": "solarb.rpc.errors",
    "Transport": "solarb.rpc.transport",
    "wait_for_signature": "solarb.rpc.ws",
}


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
