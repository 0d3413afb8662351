"""The AccountSource Protocol: where account states come from (PubSub, Geyser, polling, replay).

A source delivers :class:`~solarb.events.AccountUpdate` objects for the accounts it was asked to
watch, in slot order per account (an update older than the last one delivered for that account
is dropped), and reports cluster slots. Callbacks are called synchronously on the event loop; they
must not block. ``run`` returns only by cancellation or with a non-retryable error.

Freshness: :meth:`AccountSource.account_slot` says up to which slot the source knows an account's
delivered state to be current (-1: not known fresh, e.g. awaiting a resync after a reconnect).
The engine trades through a pool only while every account of the pool is fresh and that slot is
within ``max_slot_lag`` of the cluster (see :mod:`solarb.risk.rules.stale_state`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol, runtime_checkable

from solders.pubkey import Pubkey

from solarb.events import AccountUpdate

OnUpdate = Callable[[AccountUpdate], None]
OnSlot = Callable[[int], None]


@runtime_checkable
class AccountSource(Protocol):
    """A stream of account states for a set of watched accounts."""

    async def run(self, on_update: OnUpdate, on_slot: OnSlot) -> None:
        """Deliver updates and slots until cancelled; reconnects internally on transient errors."""
        ...

    def watch(self, pubkeys: Iterable[Pubkey]) -> None:
        """Add accounts to watch; takes effect on the live connection when running."""
        ...

    def unwatch(self, pubkeys: Iterable[Pubkey]) -> None:
        """Stop watching accounts (pools dropped); unsubscribed on the live connection."""
        ...

    def account_slot(self, pubkey: Pubkey) -> int:
        """The slot up to which ``pubkey``'s delivered state is known current; -1 if not fresh."""
        ...

    def stats(self) -> dict[str, Any]:
        """A snapshot of the source's counters (JSON-serialisable)."""
        ...


__all__ = ["AccountSource", "OnSlot", "OnUpdate"]
