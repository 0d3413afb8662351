"""The record :class:`~solarb.market.state.MarketState` keeps per watched account (internal)."""

from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING

from solders.pubkey import Pubkey

from solarb.dex.base import CLOCK_SYSVAR

if TYPE_CHECKING:
    from solarb.market.state import PoolEntry


class AccountRecord:
    """What the market holds for one watched account, so an update costs one dict lookup.

    ``slot``/``raw``/``owner``: the last applied update's (None until one is); ``entry``: the
    pool's entry when the account is a registered pool; ``readers``: the entries of the pools
    reading it as an auxiliary account, one entry or a tuple of several (None: none);
    ``clock``: it is the Clock sysvar (a class attribute: :class:`ClockRecord`). A record lives
    while the account is a pool or is read by one, so the records in a reading entry's
    ``slot_accounts`` are the market's. Make one with :func:`record`.
    """

    __slots__ = ("entry", "owner", "raw", "readers", "slot")
    clock = False

    def __init__(self) -> None:
        self.slot: int | None = None
        self.raw: bytes | None = None
        self.owner: Pubkey | None = None
        self.entry: PoolEntry | None = None
        self.readers: PoolEntry | tuple[PoolEntry, ...] | None = None


class ClockRecord(AccountRecord):
    """The Clock sysvar's record."""

    __slots__ = ()
    clock = True


def record(key: Pubkey) -> AccountRecord:
    """A new (empty) record for account ``key``."""
    return ClockRecord() if key == CLOCK_SYSVAR else AccountRecord()


record_slot = attrgetter("slot")  # a record's slot, in C (PoolEntry.slot_accounts)


def readers_of(readers: PoolEntry | tuple[PoolEntry, ...] | None) -> tuple[PoolEntry, ...]:
    """A record's ``readers`` as a tuple."""
    if readers is None:
        return ()
    return readers if isinstance(readers, tuple) else (readers,)
