"""Orca Whirlpool ``swap_v2`` instruction: account metas (cached per pool and user), data and the
template key, given the direction's tick arrays (:mod:`solarb.dex.orca_whirlpool` picks them and
exposes the adapter's ``swap_instruction``/``swap_data``/``swap_instruction_key``)."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from solarb.dex.base import MEMO_PROGRAM_ID
from solarb.dex.orca_whirlpool_layout import PROGRAM_ID, Whirlpool, oracle_address
from solarb.dex.spl_token import associated_token_address

__all__ = ["SWAP_V2_DISCRIMINATOR", "instruction", "instruction_key", "swap_data"]

SWAP_V2_DISCRIMINATOR = hashlib.sha256(b"global:swap_v2").digest()[:8]

_METAS: dict[tuple[Pubkey, Pubkey], tuple[tuple[Pubkey, ...], list[AccountMeta], AccountMeta]] = {}


def _static_metas(state: Whirlpool, user: Pubkey) -> tuple[list[AccountMeta], AccountMeta]:
    """The swap's account metas before the tick arrays, and the oracle's, made once per pool
    and user (checked against the state's programs, mints and vaults)."""
    static = (state.token_program_a, state.token_program_b, state.mint_a, state.mint_b,
              state.vault_a, state.vault_b)  # fmt: skip
    c = _METAS.get((state.address, user))
    if c is not None and c[0] == static:
        return c[1], c[2]
    ata_a = associated_token_address(user, state.mint_a, state.token_program_a)
    ata_b = associated_token_address(user, state.mint_b, state.token_program_b)
    head = [
        AccountMeta(state.token_program_a, False, False),
        AccountMeta(state.token_program_b, False, False),
        AccountMeta(MEMO_PROGRAM_ID, False, False),
        AccountMeta(user, True, False),
        AccountMeta(state.address, False, True),
        AccountMeta(state.mint_a, False, False),
        AccountMeta(state.mint_b, False, False),
        AccountMeta(ata_a, False, True),
        AccountMeta(state.vault_a, False, True),
        AccountMeta(ata_b, False, True),
        AccountMeta(state.vault_b, False, True),
    ]
    oracle = AccountMeta(oracle_address(state.address), False, True)
    _METAS[(state.address, user)] = (static, head, oracle)
    return head, oracle


def instruction(state: Whirlpool, user: Pubkey, amount_in: int, min_out: int, a_to_b: bool,
                arrays: Sequence[Pubkey]) -> Instruction:  # fmt: skip
    """``swap_v2`` exact-in over the three tick ``arrays`` (the last repeated when fewer)."""
    head, oracle = _static_metas(state, user)
    metas = [*head, *[AccountMeta(k, False, True) for k in arrays], oracle]
    return Instruction(PROGRAM_ID, swap_data(state, amount_in, min_out, a_to_b), metas)


def swap_data(state: Whirlpool, amount_in: int, min_out: int, a_to_b: bool) -> bytes:
    """The data of :func:`instruction` (``struct.error`` for an amount outside u64)."""
    args = struct.pack("<QQQQ??B", amount_in, min_out, 0, 0, True, a_to_b, 0)
    return SWAP_V2_DISCRIMINATOR + args


def instruction_key(state: Whirlpool, a_to_b: bool, arrays: Sequence[Pubkey]) -> tuple[object, ...]:
    """Everything :func:`instruction` reads besides ``user`` and the amounts."""
    return (state.address, a_to_b, state.token_program_a, state.token_program_b, state.mint_a,
            state.mint_b, state.vault_a, state.vault_b, *arrays)
