"""Typed, immutable events that cross stage boundaries.

Every account-derived event carries the slot it was observed at and ``ts_recv_ns``, the
monotonic nanosecond time the frame was handed to the engine (for latency figures only).
Amounts are integers in base units.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from solders.pubkey import Pubkey

from solarb.frozen import fast_init


@fast_init
@dataclass(slots=True, frozen=True)
class AccountUpdate:
    """One observed state of an account (from PubSub, RPC resync, polling or replay)."""

    pubkey: Pubkey
    slot: int
    data: bytes
    owner: Pubkey
    lamports: int
    ts_recv_ns: int = 0


@dataclass(slots=True, frozen=True)
class SlotUpdate:
    """The cluster reached a new slot."""

    slot: int
    ts_recv_ns: int = 0


@dataclass(slots=True, frozen=True)
class PoolChanged:
    """A pool's decoded state or one of its auxiliary accounts changed."""

    pool: Pubkey
    slot: int
    ts_recv_ns: int = 0


@fast_init
@dataclass(slots=True, frozen=True)
class Hop:
    """One swap of a cycle, with its exact quoted amounts. ``arrays``: the quote's
    :attr:`~solarb.dex.base.Quote.arrays` (tick/bin array accounts for the instruction; empty
    when the adapter has none), not part of equality."""

    pool: Pubkey
    dex: str
    a_to_b: bool
    mint_in: Pubkey
    mint_out: Pubkey
    amount_in: int
    amount_out: int
    arrays: tuple[Pubkey, ...] = field(default=(), compare=False)


@fast_init
@dataclass(slots=True, frozen=True)
class Opportunity:
    """A profitable cycle found at ``slot``: ``hops[0].mint_in == hops[-1].mint_out == start_mint``."""

    id: str
    start_mint: Pubkey
    hops: tuple[Hop, ...]
    amount_in: int
    amount_out: int
    slot: int
    ts_recv_ns: int
    ts_detect_ns: int

    @property
    def profit(self) -> int:
        """Gross profit in base units of ``start_mint`` (before transaction fees)."""
        return self.amount_out - self.amount_in


@fast_init
@dataclass(slots=True, frozen=True)
class Verdict:
    """The risk engine's decision on an opportunity."""

    opportunity_id: str
    approved: bool
    reason: str = ""


@fast_init
@dataclass(slots=True, frozen=True)
class Order:
    """An approved opportunity ready to execute. ``min_out`` guards the final hop (>= amount_in + min profit)."""

    id: str
    opportunity: Opportunity
    min_out: int


class TxStatus(str, Enum):
    """Final status of a sent transaction."""

    CONFIRMED = "confirmed"
    FAILED = "failed"
    EXPIRED = "expired"
    SIMULATION_FAILED = "simulation_failed"


@dataclass(slots=True, frozen=True)
class TxSent:
    """A signed transaction left for the cluster."""

    order_id: str
    signature: str
    last_valid_block_height: int


@dataclass(slots=True, frozen=True)
class TxOutcome:
    """What became of an order's transaction."""

    order_id: str
    signature: str | None
    status: TxStatus
    slot: int | None = None
    error: str | None = None
