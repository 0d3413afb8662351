"""Transaction senders: one module per way out (RPC node, Jito block engine).

Names are imported on first use (PEP 562), so importing one submodule does not load the others
(and their network stacks).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
