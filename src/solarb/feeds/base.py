"""The AccountSource Protocol: where account states come from (PubSub, Geyser, polling, replay).

A source delivers :class:`~solarb.events.AccountUpdate` objects for the accounts it was asked to
watch, in slot order per account (an update older than the last one delivered for that account
is dropped), and reports cluster slots. Callbacks are called synchronously on the event loop; they
must not block. ``run`` returns only by cancellation or with a non-retryable error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, runtime_checkable

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


__all__ = ["AccountSource", "OnSlot", "OnUpdate"]
