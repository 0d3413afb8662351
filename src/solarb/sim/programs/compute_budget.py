"""Model of the Compute Budget program (``ComputeBudget111111111111111111111111111111``).

Its instructions are read by the bank *before* execution (they set the transaction's compute-unit
limit and price, hence its fee): :func:`parse_compute_budget`. Executing them is a 150-unit no-op.

Instruction data (u8 tag): RequestHeapFrame (1, u32 bytes), SetComputeUnitLimit (2, u32),
SetComputeUnitPrice (3, u64 micro-lamports per unit), SetLoadedAccountsDataSizeLimit (4, u32).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from solders.pubkey import Pubkey

from solarb.sim.programs.base import AccountRef, InvokeContext, ProgramError

COMPUTE_BUDGET_PROGRAM_ID = Pubkey.from_string("ComputeBudget111111111111111111111111111111")
COMPUTE_UNITS = 150
MAX_COMPUTE_UNIT_LIMIT = 1_400_000
MIN_HEAP_FRAME_BYTES = 32 * 1024
MAX_HEAP_FRAME_BYTES = 256 * 1024

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


@dataclass(slots=True, frozen=True)
class ComputeBudget:
    """What the compute budget instructions of one transaction requested (None = not requested)."""

    unit_limit: int | None = None
    unit_price: int = 0  # micro-lamports per compute unit
    heap_bytes: int | None = None


class ComputeBudgetError(Exception):
    """A compute budget instruction is invalid: ``err`` is the transaction error's JSON value."""

    def __init__(self, err: object) -> None:
        super().__init__(str(err))
        self.err = err


def parse_compute_budget(instructions: Iterable[tuple[int, bytes]]) -> ComputeBudget:
    """Read (instruction index, data) pairs of compute-budget instructions, as the runtime does.

    Raises ComputeBudgetError with ``{"InstructionError": [i, "InvalidInstructionData"]}`` for bad
    data, ``{"DuplicateInstruction": i}`` for a repeated kind, ``{"InstructionError": [i,
    "InvalidArgument"]}`` for an invalid heap size. The limit is clamped to 1,400,000.
    """
    limit: int | None = None
    price: int | None = None
    heap: int | None = None
    loaded: int | None = None
    for index, data in instructions:
        try:
            tag = data[0]
            if tag == 2 and len(data) == 5:
                if limit is not None:
                    raise ComputeBudgetError({"DuplicateInstruction": index})
                limit = _U32.unpack_from(data, 1)[0]
            elif tag == 3 and len(data) == 9:
                if price is not None:
                    raise ComputeBudgetError({"DuplicateInstruction": index})
                price = _U64.unpack_from(data, 1)[0]
            elif tag == 1 and len(data) == 5:
                if heap is not None:
                    raise ComputeBudgetError({"DuplicateInstruction": index})
                heap = _U32.unpack_from(data, 1)[0]
                if not MIN_HEAP_FRAME_BYTES <= heap <= MAX_HEAP_FRAME_BYTES or heap % 1024:
                    raise ComputeBudgetError({"InstructionError": [index, "InvalidArgument"]})
            elif tag == 4 and len(data) == 5:
                if loaded is not None:
                    raise ComputeBudgetError({"DuplicateInstruction": index})
                loaded = _U32.unpack_from(data, 1)[0]
            else:
                raise ComputeBudgetError({"InstructionError": [index, "InvalidInstructionData"]})
        except IndexError as exc:
            raise ComputeBudgetError({"InstructionError": [index, "InvalidInstructionData"]}) from exc
    return ComputeBudget(
        None if limit is None else min(limit, MAX_COMPUTE_UNIT_LIMIT), price or 0, heap
    )


class ComputeBudgetProgram:
    """Executes compute budget instructions as no-ops (their effect is applied before execution)."""

    program_id = COMPUTE_BUDGET_PROGRAM_ID
    builtin = True

    def execute(self, ctx: InvokeContext, accounts: Sequence[AccountRef], data: bytes) -> None:
        """Charge the builtin cost; the data was validated by :func:`parse_compute_budget`."""
        ctx.consume(COMPUTE_UNITS)
        if not data:
            raise ProgramError("empty compute budget instruction", builtin="InvalidInstructionData")
