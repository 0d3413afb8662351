"""The network edge: JSON-RPC client over a one-method Transport, PubSub, typed errors."""

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
