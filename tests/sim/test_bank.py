"""Bank rules: blockhashes, signatures, duplicates, fees, atomicity, write rules, commitment, listeners."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from solders.address_lookup_table_account import AddressLookupTableAccount
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message, MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from solarb.dex.spl_token import SYSTEM_PROGRAM_ID, TOKEN_PROGRAM_ID, WSOL_MINT
from solarb.sim.accounts import Account, rent_exempt_minimum
from solarb.sim.bank import ADDRESS_LOOKUP_TABLE_PROGRAM, SYSVAR_CLOCK, Bank
from solarb.sim.tx_errors import MalformedTransaction, TransactionFailed
from solarb.sim.programs.address_lookup_table import U64_MAX, LookupTableMeta, encode_table

SOL = 1_000_000_000


def _tx(bank: Bank, payer: Keypair, ixs: Sequence[Instruction], *extra: Keypair,
        blockhash: Hash | None = None) -> VersionedTransaction:
    msg = Message.new_with_blockhash(list(ixs), payer.pubkey(), blockhash or bank.latest_blockhash()[0])
    return VersionedTransaction(msg, [payer, *extra])


def _pay(frm: Pubkey, to: Pubkey, lamports: int) -> Instruction:
    return transfer(TransferParams(from_pubkey=frm, to_pubkey=to, lamports=lamports))


@pytest.fixture()
def bank() -> Bank:
    return Bank()


@pytest.fixture()
def payer(bank: Bank) -> Keypair:
    kp = Keypair.from_seed(bytes([1] * 32))
    bank.airdrop(kp.pubkey(), 10 * SOL)
    return kp


class Recorder:
    def __init__(self) -> None:
        self.accounts: list[tuple[Pubkey, int, int]] = []
        self.slots: list[tuple[int, int, int]] = []
        self.signatures: list[tuple[Signature, int, object]] = []

    def on_account(self, pubkey: Pubkey, account: Account, slot: int) -> None:
        self.accounts.append((pubkey, account.lamports, slot))

    def on_slot(self, slot: int, parent: int, root: int) -> None:
        self.slots.append((slot, parent, root))

    def on_signature(self, signature: Signature, slot: int, err: object) -> None:
        self.signatures.append((signature, slot, err))


def test_genesis_state(bank: Bank) -> None:
    assert bank.get_account(SYSTEM_PROGRAM_ID).executable  # type: ignore[union-attr]
    assert bank.get_account(WSOL_MINT).owner == TOKEN_PROGRAM_ID  # type: ignore[union-attr]
    assert (bank.slot, bank.block_height, bank.epoch) == (0, 0, 0)
    assert bank.minimum_balance_for_rent_exemption(165) == 2_039_280
    assert Bank().latest_blockhash() == bank.latest_blockhash()  # deterministic from the seed
    assert Bank(seed=b"other").latest_blockhash() != bank.latest_blockhash()


def test_transfer_charges_fee_and_records_details(bank: Bank, payer: Keypair) -> None:
    to = Keypair().pubkey()
    sig = bank.process_transaction(bytes(_tx(bank, payer, [_pay(payer.pubkey(), to, SOL)])))
    assert bank.get_balance(payer.pubkey()) == 9 * SOL - 5000
    assert bank.get_balance(to) == SOL
    rec = bank.transaction(sig)
    assert rec is not None and rec.err is None and rec.fee == 5000
    assert rec.pre_balances[:2] == [10 * SOL, 0] and rec.post_balances[:2] == [9 * SOL - 5000, SOL]
    assert rec.logs == ["Program 11111111111111111111111111111111 invoke [1]",
                        "Program 11111111111111111111111111111111 success"]
    assert rec.units_consumed == 150


def test_priority_fee_uses_limit_times_price(bank: Bank, payer: Keypair) -> None:
    to = Keypair().pubkey()
    ixs = [set_compute_unit_limit(300_000), set_compute_unit_price(10_001), _pay(payer.pubkey(), to, SOL)]
    sig = bank.process_transaction(_tx(bank, payer, ixs))
    fee = 5000 + (300_000 * 10_001 + 999_999) // 1_000_000
    assert bank.transaction(sig).fee == fee == 8001  # type: ignore[union-attr]
    assert bank.get_balance(payer.pubkey()) == 9 * SOL - fee
    # without a limit: 3,000 per builtin instruction (2 here) -> 6,000 units
    msg = _tx(bank, payer, [set_compute_unit_price(1_000_000), _pay(payer.pubkey(), to, 1)]).message
    assert bank.fee_for_message(msg) == 5000 + 6000
    assert bank.fee_for_message(bytes(msg)) == 11_000


def test_unknown_and_expired_blockhash(bank: Bank, payer: Keypair) -> None:
    to = Keypair().pubkey()
    with pytest.raises(TransactionFailed) as exc:
        bank.process_transaction(_tx(bank, payer, [_pay(payer.pubkey(), to, SOL)], blockhash=Hash.new_unique()))
    assert exc.value.err == "BlockhashNotFound"
    blockhash, last_valid = bank.latest_blockhash()
    assert last_valid == bank.block_height + 150
    for _ in range(150):
        bank.advance_slot()
    assert bank.is_blockhash_valid(blockhash)
    bank.advance_slot()
    assert not bank.is_blockhash_valid(blockhash)
    with pytest.raises(TransactionFailed) as exc:
        bank.process_transaction(_tx(bank, payer, [_pay(payer.pubkey(), to, SOL)], blockhash=blockhash))
    assert exc.value.err == "BlockhashNotFound"


def test_bad_signature_and_duplicate(bank: Bank, payer: Keypair) -> None:
    tx = _tx(bank, payer, [_pay(payer.pubkey(), Keypair().pubkey(), SOL)])
    forged = VersionedTransaction.populate(tx.message, [Keypair().sign_message(b"x")])
    with pytest.raises(TransactionFailed) as exc:
        bank.process_transaction(forged)
    assert exc.value.err == "SignatureFailure"
    bank.process_transaction(tx)
    with pytest.raises(TransactionFailed) as exc:
        bank.process_transaction(tx)
    assert exc.value.err == "AlreadyProcessed"
    assert bank.get_balance(payer.pubkey()) == 9 * SOL - 5000
    with pytest.raises(MalformedTransaction):
        bank.process_transaction(b"\x01garbage")


def test_fee_payer_missing_or_short(bank: Bank) -> None:
    ghost = Keypair()
    with pytest.raises(TransactionFailed) as exc:
        bank.process_transaction(_tx(bank, ghost, [_pay(ghost.pubkey(), Keypair().pubkey(), 1)]))
    assert exc.value.err == "AccountNotFound"
    bank.set_account(ghost.pubkey(), Account(rent_exempt_minimum(0) + 4999, b"", SYSTEM_PROGRAM_ID))
    with pytest.raises(TransactionFailed) as exc:
        bank.process_transaction(_tx(bank, ghost, [_pay(ghost.pubkey(), Keypair().pubkey(), 1)]))
    assert exc.value.err == "InsufficientFundsForFee"


def test_failed_instruction_lands_charges_fee_and_rolls_back(bank: Bank, payer: Keypair) -> None:
    a, b = Keypair().pubkey(), Keypair().pubkey()
    ixs = [_pay(payer.pubkey(), a, SOL), _pay(payer.pubkey(), b, 100 * SOL)]
    sig = bank.process_transaction(_tx(bank, payer, ixs))
    status = bank.signature_status(sig)
    assert status is not None and status.err == {"InstructionError": [1, {"Custom": 1}]}
    assert bank.get_account(a) is None  # first transfer rolled back
    assert bank.get_balance(payer.pubkey()) == 10 * SOL - 5000
    rec = bank.transaction(sig)
    assert rec is not None and rec.logs[-2:] == [
        f"Program log: Transfer: insufficient lamports {9 * SOL - 5000}, need {100 * SOL}",
        "Program 11111111111111111111111111111111 failed: custom program error: 0x1"]


def test_readonly_account_write_rejected(bank: Bank, payer: Keypair) -> None:
    to = Keypair().pubkey()
    ix = _pay(payer.pubkey(), to, SOL)
    ro = Instruction(ix.program_id, ix.data, [ix.accounts[0], AccountMeta(to, False, False)])
    sig = bank.process_transaction(_tx(bank, payer, [ro]))
    assert bank.signature_status(sig).err == {"InstructionError": [0, "ReadonlyLamportChange"]}  # type: ignore[union-attr]
    assert bank.get_account(to) is None


def test_debit_of_foreign_account_rejected(bank: Bank, payer: Keypair) -> None:
    victim = Keypair()
    bank.set_account(victim.pubkey(), Account(SOL, b"", TOKEN_PROGRAM_ID))
    sig = bank.process_transaction(_tx(bank, payer, [_pay(victim.pubkey(), payer.pubkey(), SOL // 2)], victim))
    assert bank.signature_status(sig).err == {"InstructionError": [0, "ExternalAccountLamportSpend"]}  # type: ignore[union-attr]
    assert bank.get_balance(victim.pubkey()) == SOL


def test_unknown_program_and_compute_limit(bank: Bank, payer: Keypair) -> None:
    ix = Instruction(Pubkey.new_unique(), b"", [])
    with pytest.raises(TransactionFailed) as exc:
        bank.process_transaction(_tx(bank, payer, [ix]))
    assert exc.value.err == "ProgramAccountNotFound"
    sig = bank.process_transaction(_tx(bank, payer, [set_compute_unit_limit(200),
                                                     _pay(payer.pubkey(), Keypair().pubkey(), SOL)]))
    rec = bank.transaction(sig)
    assert rec is not None and rec.err == {"InstructionError": [1, "ComputationalBudgetExceeded"]}
    assert rec.units_consumed == 200 and rec.fee == 5000


def test_commitment_and_listeners(bank: Bank, payer: Keypair) -> None:
    rec = Recorder()
    bank.add_listener(rec)
    to = Keypair().pubkey()
    sig = bank.process_transaction(_tx(bank, payer, [_pay(payer.pubkey(), to, SOL)]))
    assert (payer.pubkey(), 9 * SOL - 5000, 0) in rec.accounts and (to, SOL, 0) in rec.accounts
    assert rec.signatures == [(sig, 0, None)]
    assert bank.signature_status(sig).confirmation_status == "processed"  # type: ignore[union-attr]
    assert bank.advance_slot() == 1
    assert rec.slots == [(1, 0, 0)] and rec.accounts[-1][0] == SYSVAR_CLOCK
    st = bank.signature_status(sig)
    assert st is not None and (st.confirmation_status, st.confirmations) == ("confirmed", 1)
    for _ in range(31):
        bank.advance_slot()
    st = bank.signature_status(sig)
    assert st is not None and (st.confirmation_status, st.confirmations, st.slot) == ("finalized", None, 0)
    assert rec.slots[-1] == (32, 31, 0)
    assert bank.signature_status(Signature.default()) is None


def test_simulate_does_not_commit(bank: Bank, payer: Keypair) -> None:
    to = Keypair().pubkey()
    tx = _tx(bank, payer, [_pay(payer.pubkey(), to, SOL)], blockhash=Hash.new_unique())
    sim = bank.simulate_transaction(tx)
    assert sim.err == "BlockhashNotFound"
    sim = bank.simulate_transaction(tx, replace_recent_blockhash=True)
    assert sim.err is None and sim.units_consumed == 150 and sim.fee == 5000
    assert sim.accounts is not None and sim.accounts[to] == Account(SOL, b"", SYSTEM_PROGRAM_ID)
    assert sim.replacement_blockhash == bank.latest_blockhash()
    assert bank.get_account(to) is None and bank.get_balance(payer.pubkey()) == 10 * SOL
    bad = _tx(bank, payer, [_pay(payer.pubkey(), to, 100 * SOL)])
    assert bank.simulate_transaction(bad).err == {"InstructionError": [0, {"Custom": 1}]}


def test_airdrops_are_distinct_transactions(bank: Bank) -> None:
    to = Keypair().pubkey()
    s1, s2 = bank.airdrop(to, SOL), bank.airdrop(to, SOL)
    assert s1 != s2 and bank.get_balance(to) == 2 * SOL
    assert bank.signature_status(s1).err is None  # type: ignore[union-attr]


def test_program_accounts_index_and_deletion(bank: Bank) -> None:
    owner = Pubkey.new_unique()
    keys = [Pubkey.new_unique() for _ in range(3)]
    for k in keys:
        bank.set_account(k, Account(SOL, b"\x01", owner))
    assert {k for k, _ in bank.get_program_accounts(owner)} == set(keys)
    bank.set_account(keys[0], Account(SOL, b"\x01", SYSTEM_PROGRAM_ID))
    bank.set_account(keys[1], Account(0, b"", owner))
    assert [k for k, _ in bank.get_program_accounts(owner)] == [keys[2]]
    assert bank.get_account(keys[1]) is None


def test_v0_message_with_lookup_table(bank: Bank, payer: Keypair) -> None:
    dests = [Pubkey.new_unique() for _ in range(3)]
    table = Pubkey.new_unique()
    bank.advance_slot()
    # extended in this very slot: the runtime does not let a transaction load these addresses yet
    fresh = encode_table(LookupTableMeta(U64_MAX, bank.slot, 0, payer.pubkey()), dests)
    bank.set_account(table, Account(rent_exempt_minimum(len(fresh)), fresh, ADDRESS_LOOKUP_TABLE_PROGRAM))
    ixs = [_pay(payer.pubkey(), d, SOL) for d in dests]
    early = MessageV0.try_compile(payer.pubkey(), ixs, [AddressLookupTableAccount(table, dests)],
                                  bank.latest_blockhash()[0])
    with pytest.raises(TransactionFailed) as early_exc:
        bank.process_transaction(VersionedTransaction(early, [payer]))
    assert early_exc.value.err == "InvalidAddressLookupTableIndex"
    data = encode_table(LookupTableMeta(U64_MAX, bank.slot - 1, 0, payer.pubkey()), dests)
    bank.set_account(table, Account(rent_exempt_minimum(len(data)), data, ADDRESS_LOOKUP_TABLE_PROGRAM))
    msg = MessageV0.try_compile(payer.pubkey(), ixs, [AddressLookupTableAccount(table, dests)],
                                bank.latest_blockhash()[0])
    sig = bank.process_transaction(VersionedTransaction(msg, [payer]))
    rec = bank.transaction(sig)
    assert rec is not None and rec.err is None and rec.loaded_writable == dests
    assert all(bank.get_balance(d) == SOL for d in dests)
    missing = MessageV0.try_compile(payer.pubkey(), ixs, [AddressLookupTableAccount(Pubkey.new_unique(), dests)],
                                    bank.latest_blockhash()[0])
    with pytest.raises(TransactionFailed) as exc:
        bank.process_transaction(VersionedTransaction(missing, [payer]))
    assert exc.value.err == "AddressLookupTableNotFound"
