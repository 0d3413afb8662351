"""What goes in the engine's address lookup tables, without any network: the static accounts of
every pool route (:func:`route_addresses`) and, for a process that does not create them on a
cluster (``solarb bench``), the table accounts holding them (:func:`tables_of`).

:mod:`solarb.execution.alt` creates or loads the tables over RPC; ``TxBuilder`` compiles each
message against the tables its route uses.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from solders.address_lookup_table_account import (
    AddressLookupTableAccount,
    derive_lookup_table_address,
)
from solders.compute_budget import ID as COMPUTE_BUDGET_PROGRAM_ID
from solders.pubkey import Pubkey

from solarb.dex.base import AccountData, DexAdapter, PoolState
from solarb.dex.spl_token import (
    ASSOCIATED_TOKEN_PROGRAM_ID,
    SYSTEM_PROGRAM_ID,
    TOKEN_PROGRAM_ID,
    associated_token_address,
)
from solarb.errors import SolarbError

__all__ = ["MAX_ADDRESSES", "route_addresses", "table_chunks", "tables_of"]

MAX_ADDRESSES = 256  # addresses one lookup table holds
_LEG_PROBE_AMOUNT = 1


def route_addresses(payer: Pubkey, pools: Iterable[tuple[DexAdapter, PoolState, AccountData]]) -> list[Pubkey]:
    """Static accounts of every pool route, first-use order, without repeats and without ``payer``.

    Per pool: the accounts and program of ``swap_instruction`` in both directions (with the aux
    accounts loaded now) and the payer's ATAs of both mints; then the token, system, ATA and
    compute-budget programs. A leg the adapter cannot build now (a :class:`SolarbError`,
    ``ValueError`` or ``KeyError`` from the adapter, e.g. no tick array loaded) is skipped: its accounts go in the message as static keys.
    """
    out: dict[Pubkey, None] = {}
    for adapter, state, aux in pools:
        for a_to_b in (True, False):
            try:
                ix = adapter.swap_instruction(state, payer, _LEG_PROBE_AMOUNT, 0, a_to_b, aux=aux)
            except (SolarbError, ValueError, KeyError):  # cannot build now: not tabled
                ix = None
            if ix is not None:
                out[ix.program_id] = None
                for meta in ix.accounts:
                    out[meta.pubkey] = None
        for mint, program in ((state.mint_a, state.token_program_a), (state.mint_b, state.token_program_b)):
            out[associated_token_address(payer, mint, program)] = None
            out[program] = None
    for program in (TOKEN_PROGRAM_ID, SYSTEM_PROGRAM_ID, ASSOCIATED_TOKEN_PROGRAM_ID,
                    COMPUTE_BUDGET_PROGRAM_ID):
        out[program] = None
    out.pop(payer, None)
    return list(out)


def table_chunks(addresses: Sequence[Pubkey]) -> list[list[Pubkey]]:
    """``addresses`` split, in order, into the contents of tables of :data:`MAX_ADDRESSES`."""
    return [list(addresses[i:i + MAX_ADDRESSES]) for i in range(0, len(addresses), MAX_ADDRESSES)]


def tables_of(authority: Pubkey, addresses: Sequence[Pubkey]) -> list[AddressLookupTableAccount]:
    """``addresses`` in the tables of :func:`table_chunks`, at the addresses ``authority``'s
    tables created at slots 0, 1, ... would have: what
    :func:`solarb.execution.alt.create_lookup_tables` leaves on a cluster, for a process that
    compiles against tables without one."""
    return [
        AddressLookupTableAccount(derive_lookup_table_address(authority, n)[0], chunk)
        for n, chunk in enumerate(table_chunks(addresses))
    ]
