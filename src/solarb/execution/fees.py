"""Transaction fee estimate: base fee per signature plus the compute-unit priority fee.

The priority fee is ``ceil(compute_unit_limit * micro_lamports_per_cu / 1_000_000)`` lamports
(the runtime charges on the requested limit, not on the units consumed).
"""

from __future__ import annotations

from solders.transaction import VersionedTransaction

LAMPORTS_PER_SIGNATURE = 5_000
MICRO_LAMPORTS_PER_LAMPORT = 1_000_000


def priority_fee(compute_unit_limit: int, micro_lamports_per_cu: int) -> int:
    """Priority fee in lamports, rounded up. Raises ``ValueError`` on negative inputs."""
    if compute_unit_limit < 0 or micro_lamports_per_cu < 0:
        raise ValueError("compute unit limit and price must be >= 0")
    product = compute_unit_limit * micro_lamports_per_cu
    return -(-product // MICRO_LAMPORTS_PER_LAMPORT)


def estimate_fee(signatures: int, compute_unit_limit: int, micro_lamports_per_cu: int) -> int:
    """Total fee in lamports: ``signatures * 5000 + priority_fee(limit, price)``."""
    if signatures < 0:
        raise ValueError("signature count must be >= 0")
    return signatures * LAMPORTS_PER_SIGNATURE + priority_fee(
        compute_unit_limit, micro_lamports_per_cu
    )


def fee_for_transaction(
    tx: VersionedTransaction, compute_unit_limit: int, micro_lamports_per_cu: int
) -> int:
    """Fee in lamports of a built transaction, counting its required signatures."""
    signatures = tx.message.header.num_required_signatures
    return estimate_fee(signatures, compute_unit_limit, micro_lamports_per_cu)
