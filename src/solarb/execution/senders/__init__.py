"""Transaction senders: one module per way out (RPC node, Jito block engine).

Names are imported on first use (PEP 562), so importing one submodule does not load the others
(and their network stacks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from solarb.lazy import lazy_exports

if TYPE_CHECKING:
    from solarb.execution.senders.base import TxSender
    from solarb.execution.senders.rpc import RpcSender

__all__ = [
    "RpcSender",
    "TxSender",
]

_EXPORTS: dict[str, str] = {
    "RpcSender": "solarb.execution.senders.rpc",
    "TxSender": "solarb.execution.senders.base",
}


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
