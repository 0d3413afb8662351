"""One-time wallet setup: create the payer's associated token accounts for the traded mints and
wrap SOL into the wSOL account (System transfer + SyncNative).

Every ATA creation is ``CreateIdempotent``, so running setup twice is harmless. Transactions are
chunked (``max_creates_per_tx``) to stay under the 1232-byte limit; the wrap goes in the first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from solarb.errors import Rejected
from solarb.events import TxStatus
from solarb.execution.builder import create_ata_idempotent, sync_native
from solarb.execution.confirm import StatusRpc, confirm, err_text
from solarb.execution.errors import SetupError
from solarb.execution.senders.rpc import RpcSender
from solarb.dex.spl_token import TOKEN_PROGRAM_ID, WSOL_MINT, associated_token_address
from solarb.rpc.errors import RpcError


class SetupRpc(StatusRpc, Protocol):
    """The RPC calls :func:`prepare_wallet` makes."""

    async def get_latest_blockhash(self) -> tuple[Hash, int]: ...

    async def send_transaction(
        self, raw: bytes, *, skip_preflight: bool = True, max_retries: int | None = 0
    ) -> str: ...


def _ordered_mints(mints: Sequence[Pubkey], wrap_lamports: int) -> list[Pubkey]:
    out = [WSOL_MINT] if wrap_lamports > 0 else []
    for m in mints:
        if m not in out:
            out.append(m)
    return out


def setup_instructions(
    payer: Pubkey,
    mints: Sequence[Pubkey],
    wrap_lamports: int = 0,
    *,
    token_programs: Mapping[Pubkey, Pubkey] | None = None,
    max_creates_per_tx: int = 6,
) -> list[list[Instruction]]:
    """Instruction groups, one per transaction: idempotent ATA creation for each mint (wSOL
    first when wrapping), and in the first group the wrap of ``wrap_lamports`` into wSOL.

    ``token_programs`` maps a mint to its token program (default: SPL Token).
    """
    if wrap_lamports < 0:
        raise ValueError("wrap_lamports must be >= 0")
    if max_creates_per_tx < 1:
        raise ValueError("max_creates_per_tx must be >= 1")
    programs = token_programs or {}
    ordered = _ordered_mints(mints, wrap_lamports)
    groups: list[list[Instruction]] = []
    for i in range(0, len(ordered), max_creates_per_tx):
        group = [
            create_ata_idempotent(payer, payer, m, programs.get(m, TOKEN_PROGRAM_ID))
            for m in ordered[i : i + max_creates_per_tx]
        ]
        if i == 0 and wrap_lamports > 0:
            wsol = associated_token_address(payer, WSOL_MINT, TOKEN_PROGRAM_ID)
            group.append(
                transfer(TransferParams(from_pubkey=payer, to_pubkey=wsol, lamports=wrap_lamports))
            )
            group.append(sync_native(wsol))
        groups.append(group)
    return groups


def build_setup_transactions(
    payer: Keypair,
    mints: Sequence[Pubkey],
    wrap_lamports: int,
    blockhash: Hash,
    *,
    token_programs: Mapping[Pubkey, Pubkey] | None = None,
    max_creates_per_tx: int = 6,
) -> list[VersionedTransaction]:
    """The setup transactions of :func:`setup_instructions`, signed by ``payer``."""
    key = payer.pubkey()
    return [
        VersionedTransaction(MessageV0.try_compile(key, group, [], blockhash), [payer])
        for group in setup_instructions(
            key, mints, wrap_lamports,
            token_programs=token_programs, max_creates_per_tx=max_creates_per_tx,
        )
    ]


async def prepare_wallet(
    rpc: SetupRpc,
    payer: Keypair,
    mints: Sequence[Pubkey],
    wrap_lamports: int,
    *,
    token_programs: Mapping[Pubkey, Pubkey] | None = None,
    poll_interval_s: float = 0.4,
    timeout_s: float = 90.0,
) -> list[str]:
    """Send and confirm the setup transactions one by one; return their signatures.

    Each is sent with preflight (a broken setup fails fast) and rebroadcast until confirmed.
    Raises :class:`SetupError` when a transaction is refused, fails or expires; retryable RPC
    errors propagate unchanged (call again: setup is idempotent).
    """
    key = payer.pubkey()
    groups = setup_instructions(key, mints, wrap_lamports, token_programs=token_programs)
    rebroadcaster = RpcSender(rpc)
    signatures: list[str] = []
    for group in groups:
        blockhash, last_valid = await rpc.get_latest_blockhash()
        tx = VersionedTransaction(MessageV0.try_compile(key, group, [], blockhash), [payer])
        raw = bytes(tx)
        signature = str(tx.signatures[0])
        try:
            await rpc.send_transaction(raw, skip_preflight=False, max_retries=0)
        except RpcError as e:
            if isinstance(e, Rejected):
                raise SetupError(f"wallet setup transaction refused: {e}") from e
            raise
        result = await confirm(
            rpc, rebroadcaster, raw, signature, last_valid,
            poll_interval_s=poll_interval_s, timeout_s=timeout_s,
        )
        if result.status is not TxStatus.CONFIRMED:
            detail = err_text(result.err) or result.status.value
            raise SetupError(f"wallet setup transaction {signature} {detail}")
        signatures.append(signature)
    return signatures
