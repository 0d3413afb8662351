"""Errors of the execution stage (build, simulate, send, confirm, wallet setup).

    ExecutionError (SolarbError)
     ├── BuildError (Rejected)          the order cannot become a transaction; skip it
     │    └── ProfitGuardError          order.min_out would let a losing trade land
     ├── SendError                      the transaction could not be handed to the cluster
     │    ├── SendRetryable (Retryable)  transport trouble; the same bytes may be sent again
     │    └── SendRejected (Rejected)    the endpoint refused these bytes for good
     ├── MalformedTransactionReply      getTransaction JSON without the fields we read
     ├── ConfirmTimeout (Retryable)     no final status within the time budget; the journal
     │                                  keeps the signature pending for reconcile
     └── SetupError (Fatal)             a one-time wallet setup transaction failed
"""

from __future__ import annotations

from solarb.errors import Fatal, Rejected, Retryable, SolarbError


class ExecutionError(SolarbError):
    """Base of execution errors."""


class BuildError(ExecutionError, Rejected):
    """The order cannot be turned into a transaction (unknown pool, broken route)."""


class ProfitGuardError(BuildError):
    """The final hop's ``min_out`` is below ``amount_in + min_profit``: a loss could land."""


class SendError(ExecutionError):
    """The transaction could not be handed to the cluster."""


class SendRetryable(SendError, Retryable):
    """Transport failure while sending; sending the same signed bytes again is safe."""


class SendRejected(SendError, Rejected):
    """The endpoint refused the transaction; resending the same bytes will not help."""


class MalformedTransactionReply(ExecutionError):
    """A ``getTransaction`` reply lacks the meta fields needed to compute the outcome."""


class ConfirmTimeout(ExecutionError, Retryable):
    """No final status within the time budget, and the blockhash is still valid."""


class SetupError(ExecutionError, Fatal):
    """A wallet setup transaction (ATA creation, SOL wrap) failed."""
