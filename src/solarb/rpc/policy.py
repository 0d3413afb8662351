"""Per-method retry policy: what may be retried, how often, how fast, and by when.

Three kinds of call::

    READ    idempotent: retried on another endpoint (or the same after a backoff); may be hedged
    SEND    sendTransaction: the same signed bytes go to every send endpoint at once and are
            rebroadcast (never re-signed) until one accepts or the deadline passes
    WRITE   not idempotent (the default for none of the known methods; for callers' own
            methods): retried only when the request surely never reached the node (refused, 429)

Every call has a deadline for the whole call (all attempts, backoffs and hedges); each attempt
has its own timeout, never beyond the deadline. Backoff is exponential with full jitter.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from enum import Enum

__all__ = ["CallKind", "MethodPolicy", "PolicyTable", "backoff_delay"]


class CallKind(str, Enum):
    """How a method may be retried."""

    READ = "read"
    SEND = "send"
    WRITE = "write"


@dataclass(frozen=True, slots=True)
class MethodPolicy:
    """Retry policy of one method. Times in seconds."""

    kind: CallKind = CallKind.READ
    max_attempts: int = 4
    deadline_s: float = 5.0
    attempt_timeout_s: float = 2.0
    hedge: bool = False
    backoff_base_s: float = 0.02
    backoff_max_s: float = 0.5


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Full-jitter exponential backoff for retry number ``attempt`` (1-based): U(0, min(cap,
    base * 2**(attempt-1)))."""
    return rng.uniform(0.0, min(cap, base * (2 ** max(0, attempt - 1))))


_HOT = MethodPolicy(CallKind.READ, max_attempts=4, deadline_s=3.0, attempt_timeout_s=1.0,
                    hedge=True)
_READ = MethodPolicy(CallKind.READ, max_attempts=4, deadline_s=5.0, attempt_timeout_s=2.0)
_SLOW = MethodPolicy(CallKind.READ, max_attempts=3, deadline_s=20.0, attempt_timeout_s=10.0)

DEFAULT_POLICIES: dict[str, MethodPolicy] = {
    "getAccountInfo": _HOT,
    "getMultipleAccounts": _HOT,
    "getLatestBlockhash": _HOT,
    "getSignatureStatuses": _HOT,
    "getSlot": _HOT,
    "simulateTransaction": replace(_HOT, hedge=False),
    "getBalance": _READ,
    "getTokenAccountBalance": _READ,
    "getBlockHeight": _READ,
    "getMinimumBalanceForRentExemption": _READ,
    "getHealth": _READ,
    "getProgramAccounts": _SLOW,
    "getTransaction": _SLOW,
    "sendTransaction": MethodPolicy(
        CallKind.SEND, max_attempts=3, deadline_s=2.0, attempt_timeout_s=1.0, backoff_base_s=0.05
    ),
    # Airdrops exist only on test clusters, where a duplicate merely adds test funds: retried
    # like a read (a WRITE would stop at an ambiguous 5xx and fail the engine's start-up).
    "requestAirdrop": MethodPolicy(CallKind.READ, max_attempts=4, deadline_s=10.0,
                                   attempt_timeout_s=5.0),
}


class PolicyTable:
    """Method name -> :class:`MethodPolicy`; unknown methods get ``default`` (an un-hedged read)."""

    def __init__(
        self,
        overrides: dict[str, MethodPolicy] | None = None,
        default: MethodPolicy = _READ,
    ) -> None:
        self._table = {**DEFAULT_POLICIES, **(overrides or {})}
        self.default = default

    def get(self, method: str) -> MethodPolicy:
        """The policy for ``method``."""
        return self._table.get(method, self.default)

    def set(self, method: str, policy: MethodPolicy) -> None:
        """Replace the policy of ``method``."""
        self._table[method] = policy
