"""Address lookup tables for the arbitrage transactions.

At start-up (after :func:`solarb.execution.setup.prepare_wallet`) the engine puts the static
accounts of every pool route (:func:`solarb.execution.route_tables.route_addresses`) into one or
more lookup tables owned by the payer (:func:`create_lookup_tables`), or loads existing ones
(:func:`load_lookup_tables`). v0 messages compiled against them reference each of those accounts
by a 1-byte index instead of 32 bytes.

Flow of :func:`create_lookup_tables`: CreateLookupTable (at a finalized slot), ExtendLookupTable
in transactions of at most :data:`EXTEND_CHUNK` addresses, each confirmed; then wait for a slot
after the last extension (addresses are usable from the next slot) and read the tables back over
RPC. Errors: :class:`SetupError` (Fatal) when a transaction fails or a table is missing/invalid;
retryable RPC errors propagate unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Protocol

from solders.address_lookup_table_account import (
    AddressLookupTable,
    AddressLookupTableAccount,
    derive_lookup_table_address,
)
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from solarb.dex.base import AccountData, DexAdapter, PoolState
from solarb.dex.spl_token import SYSTEM_PROGRAM_ID
from solarb.errors import Rejected
from solarb.events import AccountUpdate, TxStatus
from solarb.execution.confirm import confirm, err_text
from solarb.execution.errors import SetupError
from solarb.execution.route_tables import route_addresses, table_chunks
from solarb.execution.senders.rpc import RpcSender
from solarb.execution.setup import SetupRpc
from solarb.rpc.errors import RpcError

__all__ = [
    "ADDRESS_LOOKUP_TABLE_PROGRAM_ID", "EXTEND_CHUNK", "AltRpc", "create_lookup_table_ix",
    "create_lookup_tables", "extend_lookup_table_ix", "load_lookup_tables", "prepare_lookup_tables",
]

ADDRESS_LOOKUP_TABLE_PROGRAM_ID = Pubkey.from_string("AddressLookupTab1e1111111111111111111111111")
EXTEND_CHUNK = 28  # 28 addresses: a 1,146-byte transaction


class AltRpc(SetupRpc, Protocol):
    """The RPC calls lookup table set-up needs (``RpcClient`` satisfies it)."""

    async def get_slot(self, *, commitment: str | None = None) -> int: ...

    async def get_account(self, pubkey: Pubkey, *, commitment: str | None = None) -> AccountUpdate | None: ...


def create_lookup_table_ix(authority: Pubkey, payer: Pubkey, recent_slot: int) -> tuple[Instruction, Pubkey]:
    """CreateLookupTable (tag 0, ``recent_slot`` u64, bump u8) and the table's address."""
    table, bump = derive_lookup_table_address(authority, recent_slot)
    data = (0).to_bytes(4, "little") + recent_slot.to_bytes(8, "little") + bytes([bump])
    return Instruction(ADDRESS_LOOKUP_TABLE_PROGRAM_ID, data, [
        AccountMeta(table, is_signer=False, is_writable=True),
        AccountMeta(authority, is_signer=False, is_writable=False),
        AccountMeta(payer, is_signer=True, is_writable=True),
        AccountMeta(SYSTEM_PROGRAM_ID, is_signer=False, is_writable=False),
    ]), table


def extend_lookup_table_ix(table: Pubkey, authority: Pubkey, payer: Pubkey,
                           addresses: Sequence[Pubkey]) -> Instruction:
    """ExtendLookupTable (tag 2, ``Vec<Pubkey>``: u64 length then the keys); payer funds rent."""
    data = ((2).to_bytes(4, "little") + len(addresses).to_bytes(8, "little")
            + b"".join(bytes(a) for a in addresses))
    return Instruction(ADDRESS_LOOKUP_TABLE_PROGRAM_ID, data, [
        AccountMeta(table, is_signer=False, is_writable=True),
        AccountMeta(authority, is_signer=True, is_writable=False),
        AccountMeta(payer, is_signer=True, is_writable=True),
        AccountMeta(SYSTEM_PROGRAM_ID, is_signer=False, is_writable=False),
    ])


async def _send_all(rpc: SetupRpc, payer: Keypair, groups: Sequence[Sequence[Instruction]],
                    poll_interval_s: float, timeout_s: float) -> None:
    """Send each group as one v0 transaction (same blockhash), then confirm them all."""
    blockhash, last_valid = await rpc.get_latest_blockhash()
    sender = RpcSender(rpc)
    sent: list[tuple[bytes, str]] = []
    for group in groups:
        tx = VersionedTransaction(MessageV0.try_compile(payer.pubkey(), list(group), [], blockhash), [payer])
        raw = bytes(tx)
        try:
            await rpc.send_transaction(raw, skip_preflight=False, max_retries=0)
        except RpcError as e:
            if isinstance(e, Rejected):
                raise SetupError(f"lookup table transaction refused: {e}") from e
            raise
        sent.append((raw, str(tx.signatures[0])))
    results = await asyncio.gather(*(
        confirm(rpc, sender, raw, sig, last_valid, poll_interval_s=poll_interval_s, timeout_s=timeout_s)
        for raw, sig in sent
    ))
    for (_, sig), result in zip(sent, results, strict=True):
        if result.status is not TxStatus.CONFIRMED:
            raise SetupError(f"lookup table transaction {sig} {err_text(result.err) or result.status.value}")


async def load_lookup_tables(rpc: AltRpc, addresses: Sequence[Pubkey]) -> list[AddressLookupTableAccount]:
    """Read tables over RPC (``getAccountInfo``); :class:`SetupError` when one is missing or not a
    lookup table account."""
    out = []
    for address in addresses:
        acc = await rpc.get_account(address)
        if acc is None or acc.owner != ADDRESS_LOOKUP_TABLE_PROGRAM_ID:
            raise SetupError(f"lookup table {address} does not exist")
        try:
            table = AddressLookupTable.deserialize(acc.data)
        except Exception as e:
            raise SetupError(f"lookup table {address} does not decode: {e}") from e
        out.append(AddressLookupTableAccount(address, list(table.addresses)))
    return out


async def create_lookup_tables(
    rpc: AltRpc,
    payer: Keypair,
    addresses: Sequence[Pubkey],
    *,
    poll_interval_s: float = 0.4,
    timeout_s: float = 90.0,
) -> list[AddressLookupTableAccount]:
    """Create tables (authority and payer: ``payer``) holding ``addresses`` (at most
    :data:`~solarb.execution.route_tables.MAX_ADDRESSES` each, :func:`table_chunks`), wait until
    they are usable and return them as read back.
    Raises :class:`SetupError`; retryable RPC errors propagate."""
    key = payer.pubkey()
    chunks = table_chunks(addresses)
    if not chunks:
        return []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    recent: list[int] = []  # one authority: a distinct finalized (hence rooted, unskipped) slot per table
    while len(recent) < len(chunks) or await rpc.get_slot(commitment="processed") <= recent[-1]:
        if len(recent) < len(chunks):  # SlotHashes holds slots before the current one only
            slot = await rpc.get_slot(commitment="finalized")
            if slot not in recent:
                recent.append(slot)
                continue
        if loop.time() > deadline:
            raise SetupError("cluster made no slot progress before the lookup table creation")
        await asyncio.sleep(poll_interval_s / 4)
    tables = [create_lookup_table_ix(key, key, r) for r in recent]
    await _send_all(rpc, payer, [[ix] for ix, _ in tables], poll_interval_s, timeout_s)
    groups = [
        [extend_lookup_table_ix(table, key, key, chunk[j:j + EXTEND_CHUNK])]
        for (_, table), chunk in zip(tables, chunks, strict=True)
        for j in range(0, len(chunk), EXTEND_CHUNK)
    ]
    await _send_all(rpc, payer, groups, poll_interval_s, timeout_s)
    # Extensions become usable in the slot after the one they landed in.
    target = await rpc.get_slot(commitment="confirmed") + 1
    deadline = loop.time() + timeout_s
    while await rpc.get_slot(commitment="processed") < target:
        if loop.time() > deadline:
            raise SetupError("cluster made no slot progress after the lookup table extensions")
        await asyncio.sleep(poll_interval_s / 4)
    loaded = await load_lookup_tables(rpc, [t for _, t in tables])
    for table, chunk in zip(loaded, chunks, strict=True):
        if set(table.addresses) != set(chunk):
            raise SetupError(f"lookup table {table.key} holds {len(table.addresses)} of {len(chunk)} addresses")
    return loaded


async def prepare_lookup_tables(
    rpc: AltRpc,
    payer: Keypair,
    pools: Iterable[tuple[DexAdapter, PoolState, AccountData]],
    *,
    enabled: bool = True,
    existing: Sequence[str] = (),
    poll_interval_s: float = 0.4,
    timeout_s: float = 90.0,
) -> list[AddressLookupTableAccount]:
    """The tables the builder compiles against: none when not ``enabled``; the ``existing``
    addresses (base58) read over RPC when given; else new tables of :func:`route_addresses`.
    Raises :class:`SetupError`; retryable RPC errors propagate."""
    if not enabled:
        return []
    if existing:
        return await load_lookup_tables(rpc, [Pubkey.from_string(a) for a in existing])
    return await create_lookup_tables(rpc, payer, route_addresses(payer.pubkey(), pools),
                                      poll_interval_s=poll_interval_s, timeout_s=timeout_s)
