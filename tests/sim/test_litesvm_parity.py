"""The same non-DEX transactions on LiteSVM (a real SVM with the real SPL programs) and on our Bank:
resulting account data, owners, lamports (fees included) and errors must be identical."""

from __future__ import annotations

import json

import pytest
from solders.account import Account as SvmAccount
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import CreateAccountParams, TransferParams, create_account, transfer
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import FailedTransactionMetadata
from spl.token import instructions as spl
from spl.token import models as M

from solarb.dex.spl_token import MINT_LEN, TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID, WSOL_MINT
from solarb.sim.accounts import rent_exempt_minimum
from solarb.sim.bank import Bank
from solarb.sim.programs.associated_token import associated_token_address

SOL = 1_000_000_000


class Twin:
    """Runs every transaction on both engines and keeps the errors side by side."""

    def __init__(self) -> None:
        self.bank = Bank()
        self.svm = LiteSVM()
        native = self.bank.get_account(WSOL_MINT)
        assert native is not None
        self.svm.set_account(WSOL_MINT, SvmAccount(native.lamports, native.data, native.owner, False, 0))
        self.payer = Keypair.from_seed(bytes(range(32)))
        self.bank.airdrop(self.payer.pubkey(), 10 * SOL)
        self.svm.airdrop(self.payer.pubkey(), 10 * SOL)

    def send(self, ixs: list[Instruction], *extra: Keypair) -> tuple[object, object]:
        """Return (bank err JSON, LiteSVM err JSON); None for success."""
        signers = [self.payer, *extra]
        bank_tx = VersionedTransaction(
            Message.new_with_blockhash(ixs, self.payer.pubkey(), self.bank.latest_blockhash()[0]), signers)
        svm_tx = VersionedTransaction(
            Message.new_with_blockhash(ixs, self.payer.pubkey(), self.svm.latest_blockhash()), signers)
        rec = self.bank.transaction(self.bank.process_transaction(bank_tx))
        assert rec is not None
        res = self.svm.send_transaction(svm_tx)
        svm_err = json.loads(res.to_json())["err"] if isinstance(res, FailedTransactionMetadata) else None
        self.svm.expire_blockhash()
        self.bank.advance_slot()
        return rec.err, svm_err

    def assert_same(self, *keys: Pubkey) -> None:
        for key in (self.payer.pubkey(), *keys):
            ours, theirs = self.bank.get_account(key), self.svm.get_account(key)
            if theirs is None or theirs.lamports == 0:
                assert ours is None, f"{key} exists only in Bank"
                continue
            assert ours is not None, f"{key} exists only in LiteSVM"
            assert (ours.lamports, ours.owner, ours.executable) == (theirs.lamports, theirs.owner, theirs.executable), key
            assert ours.data == bytes(theirs.data), f"{key} data differs"


def _ata_ix(payer: Pubkey, owner: Pubkey, mint: Pubkey, program: Pubkey = TOKEN_PROGRAM_ID) -> Instruction:
    return spl.create_idempotent_associated_token_account(payer, owner, mint, program)


def _create_mint(t: Twin, mint: Keypair, decimals: int, program: Pubkey = TOKEN_PROGRAM_ID) -> None:
    payer = t.payer.pubkey()
    ixs = [
        create_account(CreateAccountParams(from_pubkey=payer, to_pubkey=mint.pubkey(),
                                           lamports=rent_exempt_minimum(MINT_LEN), space=MINT_LEN, owner=program)),
        spl.initialize_mint2(M.InitializeMint2Params(decimals=decimals, program_id=program, mint=mint.pubkey(),
                                                       mint_authority=payer, freeze_authority=None)),
    ]
    assert t.send(ixs, mint) == (None, None)
    t.assert_same(mint.pubkey())


@pytest.fixture()
def twin() -> Twin:
    return Twin()


def test_lamports_match_after_airdrop(twin: Twin) -> None:
    twin.assert_same()


def test_wrap_sol_with_priority_fee(twin: Twin) -> None:
    payer = twin.payer.pubkey()
    ata = associated_token_address(payer, WSOL_MINT, TOKEN_PROGRAM_ID)[0]
    ixs = [set_compute_unit_price(12_345), _ata_ix(payer, payer, WSOL_MINT),
           transfer(TransferParams(from_pubkey=payer, to_pubkey=ata, lamports=SOL)),
           spl.sync_native(M.SyncNativeParams(program_id=TOKEN_PROGRAM_ID, account=ata))]
    assert twin.send(ixs) == (None, None)
    twin.assert_same(ata)
    # explicit limit: fee = 5000 + ceil(50_000 * 12_345 / 1e6)
    ixs = [set_compute_unit_limit(50_000), set_compute_unit_price(12_345),
           transfer(TransferParams(from_pubkey=payer, to_pubkey=ata, lamports=SOL // 2)),
           spl.sync_native(M.SyncNativeParams(program_id=TOKEN_PROGRAM_ID, account=ata))]
    before = twin.bank.get_balance(payer)
    assert twin.send(ixs) == (None, None)
    assert before - twin.bank.get_balance(payer) == SOL // 2 + 5000 + 618
    twin.assert_same(ata)
    # unwrap: close returns every lamport to the owner
    close = spl.close_account(M.CloseAccountParams(program_id=TOKEN_PROGRAM_ID, account=ata, dest=payer, owner=payer))
    assert twin.send([close]) == (None, None)
    twin.assert_same(ata)
    assert twin.bank.get_account(ata) is None


def test_token_transfer_and_idempotent_ata(twin: Twin) -> None:
    payer = twin.payer.pubkey()
    mint = Keypair.from_seed(bytes([7] * 32))
    _create_mint(twin, mint, 6)
    other = Keypair.from_seed(bytes([9] * 32)).pubkey()
    src = associated_token_address(payer, mint.pubkey(), TOKEN_PROGRAM_ID)[0]
    dst = associated_token_address(other, mint.pubkey(), TOKEN_PROGRAM_ID)[0]
    ixs = [
        _ata_ix(payer, payer, mint.pubkey()), _ata_ix(payer, other, mint.pubkey()),
        spl.mint_to(M.MintToParams(program_id=TOKEN_PROGRAM_ID, mint=mint.pubkey(), dest=src, mint_authority=payer, amount=1_000_000)),
        spl.transfer_checked(M.TransferCheckedParams(
            program_id=TOKEN_PROGRAM_ID, source=src, mint=mint.pubkey(), dest=dst, owner=payer,
            amount=400_000, decimals=6)),
    ]
    assert twin.send(ixs) == (None, None)
    twin.assert_same(src, dst, mint.pubkey())
    # again: CreateIdempotent on existing accounts is a no-op, plain Transfer moves the rest
    ixs = [_ata_ix(payer, other, mint.pubkey()),
           spl.transfer(M.TransferParams(program_id=TOKEN_PROGRAM_ID, source=src, dest=dst, owner=payer, amount=600_000))]
    assert twin.send(ixs) == (None, None)
    twin.assert_same(src, dst, mint.pubkey())
    # empty source closes; the rent goes back to the payer
    assert twin.send([spl.close_account(M.CloseAccountParams(program_id=TOKEN_PROGRAM_ID, account=src, dest=payer, owner=payer))]) == (None, None)
    twin.assert_same(src, dst)


def test_failures_land_with_fee_and_same_error(twin: Twin) -> None:
    payer = twin.payer.pubkey()
    mint = Keypair.from_seed(bytes([3] * 32))
    _create_mint(twin, mint, 2)
    src = associated_token_address(payer, mint.pubkey(), TOKEN_PROGRAM_ID)[0]
    assert twin.send([_ata_ix(payer, payer, mint.pubkey()),
                      spl.mint_to(M.MintToParams(program_id=TOKEN_PROGRAM_ID, mint=mint.pubkey(), dest=src, mint_authority=payer, amount=100))]) == (None, None)
    dst = Keypair().pubkey()
    # token insufficient funds after a successful system transfer: rolled back, fee charged
    ixs = [transfer(TransferParams(from_pubkey=payer, to_pubkey=dst, lamports=SOL)),
           spl.transfer(M.TransferParams(program_id=TOKEN_PROGRAM_ID, source=src, dest=src, owner=payer, amount=101))]
    ours, theirs = twin.send(ixs)
    assert ours == theirs == {"InstructionError": [1, {"Custom": 1}]}
    twin.assert_same(src, dst)
    # lamports to a new address below rent exemption
    ours, theirs = twin.send([transfer(TransferParams(from_pubkey=payer, to_pubkey=dst, lamports=1000))])
    assert ours == theirs == {"InsufficientFundsForRent": {"account_index": 1}}
    twin.assert_same(dst)
    # system transfer beyond the balance; token transfer by a non-owner
    ours, theirs = twin.send([transfer(TransferParams(from_pubkey=payer, to_pubkey=dst, lamports=100 * SOL))])
    assert ours == theirs == {"InstructionError": [0, {"Custom": 1}]}
    thief = Keypair()
    ix = spl.transfer(M.TransferParams(program_id=TOKEN_PROGRAM_ID, source=src, dest=src, owner=thief.pubkey(), amount=1))
    ours, theirs = twin.send([ix], thief)
    assert ours == theirs == {"InstructionError": [0, {"Custom": 4}]}
    twin.assert_same(src)


def test_token_2022_ata_layout(twin: Twin) -> None:
    payer = twin.payer.pubkey()
    mint = Keypair.from_seed(bytes([5] * 32))
    _create_mint(twin, mint, 9, TOKEN_2022_PROGRAM_ID)
    ata = associated_token_address(payer, mint.pubkey(), TOKEN_2022_PROGRAM_ID)[0]
    ixs = [_ata_ix(payer, payer, mint.pubkey(), TOKEN_2022_PROGRAM_ID),
           spl.mint_to_checked(M.MintToCheckedParams(
               program_id=TOKEN_2022_PROGRAM_ID, mint=mint.pubkey(), dest=ata, mint_authority=payer, amount=5, decimals=9))]
    assert twin.send(ixs) == (None, None)
    twin.assert_same(ata, mint.pubkey())
    acc = twin.bank.get_account(ata)
    assert acc is not None and len(acc.data) == 170
