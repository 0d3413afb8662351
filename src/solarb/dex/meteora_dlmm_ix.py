"""Meteora DLMM ``swap``/``swap2`` instruction: account metas (cached per pair, user and
direction), data and the template key, given the bin arrays (:mod:`solarb.dex.meteora_dlmm`
picks them, from a quote when asked, and exposes the adapter's ``swap_instruction``,
``swap_data`` and ``swap_instruction_key``)."""

from __future__ import annotations

import functools
import struct
from collections.abc import Mapping, Sequence

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from solarb.dex.base import MEMO_PROGRAM_ID
from solarb.dex.meteora_dlmm_layout import LbPair
from solarb.dex.meteora_dlmm_view import PROGRAM_ID, bitmap_extension_address
from solarb.dex.spl_token import TOKEN_2022_PROGRAM_ID, associated_token_address

__all__ = ["EVENT_AUTHORITY", "SWAP2_DISCRIMINATOR", "SWAP_DISCRIMINATOR", "extension_address",
           "instruction", "swap_data", "swap_instruction_key"]

EVENT_AUTHORITY = Pubkey.find_program_address([b"__event_authority"], PROGRAM_ID)[0]
SWAP_DISCRIMINATOR = bytes([248, 198, 158, 145, 225, 117, 135, 200])
SWAP2_DISCRIMINATOR = bytes([65, 75, 63, 76, 235, 91, 91, 136])

_METAS: dict[tuple[Pubkey, Pubkey, bool],
             tuple[tuple[Pubkey, ...], AccountMeta, list[AccountMeta], bool]] = {}
"""Per (pair, user, direction): the instruction's fixed metas (the pair's, and those between
the bitmap extension and the bin arrays) with the state keys they were made from."""


def instruction(state: LbPair, user: Pubkey, amount_in: int, min_out: int, a_to_b: bool,
                bin_arrays: Sequence[Pubkey], bitmap_extension: Pubkey | None) -> Instruction:
    """``swap(amount_in, min_amount_out)`` (``swap2`` when a side is Token-2022) with the IDL
    account order: an absent bitmap extension and the host fee are the program id; then
    ``bin_arrays`` as writable remaining accounts. User accounts are ATAs."""
    if a_to_b:
        mint_in, mint_out = state.mint_a, state.mint_b
        prog_in, prog_out = state.token_program_a, state.token_program_b
    else:
        mint_in, mint_out = state.mint_b, state.mint_a
        prog_in, prog_out = state.token_program_b, state.token_program_a
    ext = bitmap_extension if bitmap_extension is not None else PROGRAM_ID
    static = (state.vault_a, state.vault_b, state.mint_a, state.mint_b, state.oracle,
              state.token_program_a, state.token_program_b)  # fmt: skip
    ck = (state.address, user, a_to_b)
    cached = _METAS.get(ck)
    if cached is not None and cached[0] == static:
        pool_meta, tail, v2 = cached[1], cached[2], cached[3]
    else:
        v2 = TOKEN_2022_PROGRAM_ID in (state.token_program_a, state.token_program_b)
        pool_meta = AccountMeta(state.address, False, True)
        tail = [
            AccountMeta(state.vault_a, False, True),
            AccountMeta(state.vault_b, False, True),
            AccountMeta(associated_token_address(user, mint_in, prog_in), False, True),
            AccountMeta(associated_token_address(user, mint_out, prog_out), False, True),
            AccountMeta(state.mint_a, False, False),
            AccountMeta(state.mint_b, False, False),
            AccountMeta(state.oracle, False, True),
            AccountMeta(PROGRAM_ID, False, False),  # host_fee_in: none
            AccountMeta(user, True, False),
            AccountMeta(state.token_program_a, False, False),
            AccountMeta(state.token_program_b, False, False),
            *([AccountMeta(MEMO_PROGRAM_ID, False, False)] if v2 else []),
            AccountMeta(EVENT_AUTHORITY, False, False),
            AccountMeta(PROGRAM_ID, False, False),
        ]
        _METAS[ck] = (static, pool_meta, tail, v2)
    data = _swap_data(v2, amount_in, min_out)
    metas = [pool_meta, AccountMeta(ext, False, bitmap_extension is not None), *tail,
             *[AccountMeta(k, False, True) for k in bin_arrays]]  # fmt: skip
    return Instruction(PROGRAM_ID, data, metas)


def _swap_data(v2: bool, amount_in: int, min_out: int) -> bytes:
    if v2:
        return SWAP2_DISCRIMINATOR + struct.pack("<QQI", amount_in, min_out, 0)
    return SWAP_DISCRIMINATOR + struct.pack("<QQ", amount_in, min_out)


def swap_data(state: LbPair, amount_in: int, min_out: int, a_to_b: bool) -> bytes:
    """The data of :func:`instruction`: ``swap2`` when a side is Token-2022, else ``swap``
    (``struct.error`` for an amount outside u64)."""
    v2 = TOKEN_2022_PROGRAM_ID in (state.token_program_a, state.token_program_b)
    return _swap_data(v2, amount_in, min_out)


@functools.lru_cache(maxsize=8192)
def extension_address(pair: Pubkey) -> Pubkey:
    """The pair's bitmap extension address (cached)."""
    return bitmap_extension_address(pair)


def swap_instruction_key(
    state: LbPair, a_to_b: bool, aux: Mapping[Pubkey, bytes] | None, arrays: Sequence[Pubkey]
) -> tuple[object, ...] | None:
    """Everything :func:`~solarb.dex.meteora_dlmm.swap_instruction` (no ``bin_arrays`` or
    ``bitmap_extension``) reads besides ``user`` and the amounts: for one user, equal keys give
    instructions equal but for their :func:`swap_data`. ``None`` (not keyable) without
    ``arrays``: the arrays then come from a quote of ``amount_in`` (or the state's bitmap)."""
    if not arrays:
        return None
    ext = aux is not None and bool(aux.get(extension_address(state.address)))
    return (state.address, a_to_b, state.vault_a, state.vault_b, state.mint_a, state.mint_b,
            state.oracle, state.token_program_a, state.token_program_b, ext,
            tuple(arrays))  # fmt: skip
