"""Transaction senders: one module per way out (RPC node, Jito block engine)."""

from solarb.execution.senders.base import TxSender
from solarb.execution.senders.rpc import RpcSender

__all__ = ["RpcSender", "TxSender"]
