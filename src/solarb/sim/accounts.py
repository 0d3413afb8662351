"""The account record stored by the local cluster."""

from __future__ import annotations

from dataclasses import dataclass

from solders.pubkey import Pubkey

RENT_EPOCH_EXEMPT = 2**64 - 1


@dataclass(slots=True)
class Account:
    """One account as the cluster stores it. Treated as immutable once stored: replace, don't mutate."""

    lamports: int
    data: bytes
    owner: Pubkey
    executable: bool = False
    rent_epoch: int = RENT_EPOCH_EXEMPT


def rent_exempt_minimum(data_len: int) -> int:
    """Lamports for rent exemption, as the runtime computes it (3480 lamports/byte-year x 2 years)."""
    return (128 + data_len) * 3480 * 2
