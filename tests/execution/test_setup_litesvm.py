"""Wallet setup transactions on LiteSVM (a real SVM with the real SPL Token / ATA programs)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from solders.account import Account
from solders.hash import Hash
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import FailedTransactionMetadata

from solarb.dex import spl_token
from solarb.dex.spl_token import (
    TOKEN_2022_PROGRAM_ID,
    TOKEN_PROGRAM_ID,
    WSOL_MINT,
    associated_token_address,
    decode_token_account,
    encode_mint,
)
from solarb.execution.builder import create_ata_idempotent
from solarb.execution.errors import SetupError
from solarb.execution.setup import build_setup_transactions, prepare_wallet, setup_instructions
from solarb.rpc.errors import SimulationFailed

# The runtime's Associated Token Account program (what LiteSVM and mainnet run).
RUNTIME_ATA_PROGRAM = Pubkey.from_string("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL")

USDC = Pubkey.from_string("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v")
T22_MINT = Pubkey.from_string("2b1kV6DkPAnxd5ixfnxCpjxmKwqjjaYmCZfHsFu24GXo")
WRAP = 2_000_000_000
START = 10_000_000_000


def test_ata_program_id_is_the_runtime_one() -> None:
    """Pins spl_token's ATA program id: LiteSVM ships the real program at this address."""
    svm = LiteSVM()
    assert svm.get_account(RUNTIME_ATA_PROGRAM) is not None
    assert spl_token.ASSOCIATED_TOKEN_PROGRAM_ID == RUNTIME_ATA_PROGRAM, (
        "fix src/solarb/dex/spl_token.py: ASSOCIATED_TOKEN_PROGRAM_ID must be "
        f"{RUNTIME_ATA_PROGRAM}, ATA derivations are wrong everywhere otherwise"
    )


def cluster() -> tuple[LiteSVM, Keypair]:
    svm = LiteSVM()
    payer = Keypair.from_seed(bytes([3]) * 32)
    svm.airdrop(payer.pubkey(), START)
    for mint, program, decimals in ((WSOL_MINT, TOKEN_PROGRAM_ID, 9), (USDC, TOKEN_PROGRAM_ID, 6),
                                    (T22_MINT, TOKEN_2022_PROGRAM_ID, 6)):
        data = encode_mint(decimals)
        svm.set_account(mint, Account(svm.minimum_balance_for_rent_exemption(len(data)), data,
                                      program, False, 0))
    return svm, payer


def token(svm: LiteSVM, address: Pubkey) -> spl_token.TokenAccount:
    acc = svm.get_account(address)
    assert acc is not None, f"{address} was not created"
    return decode_token_account(bytes(acc.data))


def run(svm: LiteSVM, tx: VersionedTransaction) -> None:
    result = svm.send_transaction(tx)
    assert not isinstance(result, FailedTransactionMetadata), str(result)


def test_setup_groups_are_chunked_with_wrap_first() -> None:
    me = Keypair().pubkey()
    mints = [Pubkey.new_unique() for _ in range(8)]
    groups = setup_instructions(me, mints, WRAP, max_creates_per_tx=6)
    assert [len(g) for g in groups] == [6 + 2, 3]  # 9 creates (wSOL first) + transfer + sync
    assert groups[0][0].accounts[3].pubkey == WSOL_MINT
    assert bytes(groups[0][-1].data) == bytes([17])  # SyncNative
    assert setup_instructions(me, mints[:1], 0) == [[create_ata_idempotent(me, me, mints[0])]]


def test_create_atas_and_wrap_sol_with_exact_balances() -> None:
    svm, payer = cluster()
    me = payer.pubkey()
    txs = build_setup_transactions(payer, [USDC, T22_MINT], WRAP, svm.latest_blockhash(),
                                   token_programs={T22_MINT: TOKEN_2022_PROGRAM_ID})
    assert len(txs) == 1
    run(svm, txs[0])
    wsol_ata = associated_token_address(me, WSOL_MINT)
    wsol = token(svm, wsol_ata)
    assert (wsol.mint, wsol.owner, wsol.amount) == (WSOL_MINT, me, WRAP)
    assert wsol.is_native is not None  # a native (wrapped SOL) account
    usdc = token(svm, associated_token_address(me, USDC))
    assert (usdc.mint, usdc.owner, usdc.amount) == (USDC, me, 0)
    t22 = svm.get_account(associated_token_address(me, T22_MINT, TOKEN_2022_PROGRAM_ID))
    assert t22 is not None and t22.owner == TOKEN_2022_PROGRAM_ID
    rent = svm.minimum_balance_for_rent_exemption(165)
    wsol_acc = svm.get_account(wsol_ata)
    assert wsol_acc is not None and wsol_acc.lamports == rent + WRAP
    spent = START - (svm.get_balance(me) or 0)
    assert spent == 5_000 + 2 * rent + t22.lamports + WRAP  # fee + rents + wrapped SOL, exactly


def test_setup_is_idempotent_and_wraps_again() -> None:
    svm, payer = cluster()
    me = payer.pubkey()
    run(svm, build_setup_transactions(payer, [USDC], WRAP, svm.latest_blockhash())[0])
    svm.expire_blockhash()
    run(svm, build_setup_transactions(payer, [USDC], WRAP, svm.latest_blockhash())[0])
    assert token(svm, associated_token_address(me, WSOL_MINT)).amount == 2 * WRAP
    assert token(svm, associated_token_address(me, USDC)).amount == 0


class LiteSvmRpc:
    """The calls prepare_wallet makes, answered by LiteSVM (one block per transaction)."""

    def __init__(self, svm: LiteSVM) -> None:
        self.svm = svm
        self.height = 0

    async def get_latest_blockhash(self) -> tuple[Hash, int]:
        return self.svm.latest_blockhash(), self.height + 150

    async def get_block_height(self) -> int:
        return self.height

    async def send_transaction(
        self, raw: bytes, *, skip_preflight: bool = True, max_retries: int | None = 0
    ) -> str:
        tx = VersionedTransaction.from_bytes(raw)
        if self.svm.get_transaction(tx.signatures[0]) is not None:
            return str(tx.signatures[0])  # already processed: a rebroadcast
        result = self.svm.send_transaction(tx)
        if isinstance(result, FailedTransactionMetadata):
            raise SimulationFailed(-32002, "Transaction simulation failed",
                                   {"err": str(result.err()), "logs": result.meta().logs()})
        self.height += 1
        self.svm.expire_blockhash()
        return str(tx.signatures[0])

    async def get_signature_statuses(
        self, signatures: Sequence[str], *, search_transaction_history: bool = False
    ) -> list[dict[str, Any] | None]:
        out: list[dict[str, Any] | None] = []
        for s in signatures:
            meta = self.svm.get_transaction(Signature.from_string(s))
            out.append(None if meta is None else
                       {"slot": self.height, "err": None, "confirmationStatus": "confirmed"})
        return out


async def test_prepare_wallet_end_to_end_on_litesvm() -> None:
    svm, payer = cluster()
    rpc = LiteSvmRpc(svm)
    sigs = await prepare_wallet(rpc, payer, [USDC], WRAP, poll_interval_s=0.001, timeout_s=5.0)
    assert len(sigs) == 1 and svm.get_transaction(Signature.from_string(sigs[0])) is not None
    assert token(svm, associated_token_address(payer.pubkey(), WSOL_MINT)).amount == WRAP


async def test_prepare_wallet_refused_is_setup_error() -> None:
    svm, payer = cluster()
    poor = Keypair()
    svm.airdrop(poor.pubkey(), 10_000_000)  # cannot wrap 2 SOL
    with pytest.raises(SetupError):
        await prepare_wallet(LiteSvmRpc(svm), poor, [USDC], WRAP, poll_interval_s=0.001)
