"""Address Lookup Table program model: real signed transactions on the Bank, account bytes checked
against solders' decoder and against LiteSVM running the real program."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from solders.address_lookup_table_account import (
    ID as RUNTIME_ALT_ID,
)
from solders.address_lookup_table_account import (
    AddressLookupTable,
    AddressLookupTableAccount,
    derive_lookup_table_address,
)
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import FailedTransactionMetadata

from solarb.execution.alt import create_lookup_table_ix, extend_lookup_table_ix
from solarb.sim.accounts import rent_exempt_minimum
from solarb.sim.bank import Bank
from solarb.sim.programs.address_lookup_table import (
    ADDRESS_LOOKUP_TABLE_PROGRAM_ID,
    LOOKUP_TABLE_META_SIZE,
    U64_MAX,
    AddressLookupTableModel,
    active_addresses,
    decode_meta,
)

SOL = 1_000_000_000
ADDRS = [Pubkey.from_bytes(bytes([i + 1]) * 32) for i in range(40)]


def test_program_id_is_the_runtime_one() -> None:
    assert ADDRESS_LOOKUP_TABLE_PROGRAM_ID == RUNTIME_ALT_ID


@pytest.fixture()
def bank() -> Bank:
    b = Bank(programs=(AddressLookupTableModel(),))
    for _ in range(5):
        b.advance_slot()
    return b


@pytest.fixture()
def payer(bank: Bank) -> Keypair:
    kp = Keypair.from_seed(bytes([7] * 32))
    bank.airdrop(kp.pubkey(), 10 * SOL)
    return kp


def _send(bank: Bank, payer: Keypair, ixs: Sequence[Instruction],
          tables: Sequence[AddressLookupTableAccount] = ()) -> object:
    msg = MessageV0.try_compile(payer.pubkey(), list(ixs), list(tables), bank.latest_blockhash()[0])
    rec = bank.transaction(bank.process_transaction(VersionedTransaction(msg, [payer])))
    assert rec is not None
    return rec.err


def _create_and_extend(bank: Bank, payer: Keypair, addrs: Sequence[Pubkey]) -> Pubkey:
    key = payer.pubkey()
    ix, table = create_lookup_table_ix(key, key, bank.slot - 1)
    assert _send(bank, payer, [ix]) is None
    for i in range(0, len(addrs), 20):
        assert _send(bank, payer, [extend_lookup_table_ix(table, key, key, addrs[i:i + 20])]) is None
    return table


def test_create_extend_layout_matches_solders(bank: Bank, payer: Keypair) -> None:
    key = payer.pubkey()
    before = bank.get_balance(key)
    table = _create_and_extend(bank, payer, ADDRS)
    assert table == derive_lookup_table_address(key, bank.slot - 1)[0]
    acc = bank.get_account(table)
    assert acc is not None and acc.owner == ADDRESS_LOOKUP_TABLE_PROGRAM_ID
    assert len(acc.data) == LOOKUP_TABLE_META_SIZE + 32 * len(ADDRS)
    assert acc.lamports == rent_exempt_minimum(len(acc.data))
    assert bank.get_balance(key) == before - acc.lamports - 3 * 5000  # payer funded all rent
    decoded = AddressLookupTable.deserialize(acc.data)
    assert list(decoded.addresses) == ADDRS
    assert decoded.meta.authority == key
    assert decoded.meta.deactivation_slot == U64_MAX
    assert decoded.meta.last_extended_slot == bank.slot
    assert decoded.meta.last_extended_slot_start_index == 0  # first extension in this slot
    meta = decode_meta(acc.data)
    assert (meta.last_extended_slot, meta.authority) == (bank.slot, key)


def test_recent_slot_must_be_recent(bank: Bank, payer: Keypair) -> None:
    key = payer.pubkey()
    ix, _ = create_lookup_table_ix(key, key, bank.slot)  # the current slot is not in SlotHashes yet
    assert _send(bank, payer, [ix]) == {"InstructionError": [0, "InvalidInstructionData"]}
    ix, _ = create_lookup_table_ix(key, key, bank.slot - 1)
    assert _send(bank, payer, [ix]) is None
    bank.advance_slot()
    assert _send(bank, payer, [ix]) == {"InstructionError": [0, "AccountAlreadyInitialized"]}


def test_extend_requires_authority(bank: Bank, payer: Keypair) -> None:
    key = payer.pubkey()
    table = _create_and_extend(bank, payer, [])
    other = Keypair()
    bank.airdrop(other.pubkey(), SOL)
    err = _send(bank, other, [extend_lookup_table_ix(table, other.pubkey(), other.pubkey(), ADDRS[:2])])
    assert err == {"InstructionError": [0, "IncorrectAuthority"]}
    assert _send(bank, payer, [extend_lookup_table_ix(table, key, key, [])]) == {
        "InstructionError": [0, "InvalidInstructionData"]}
    big = [Pubkey.from_bytes(i.to_bytes(2, "little") * 16) for i in range(257)]
    acc = bank.get_account(table)
    assert acc is not None
    for i in range(0, 256, 25):
        assert _send(bank, payer, [extend_lookup_table_ix(table, key, key, big[i:min(i + 25, 256)])]) is None
    assert _send(bank, payer, [extend_lookup_table_ix(table, key, key, big[256:])]) == {
        "InstructionError": [0, "InvalidInstructionData"]}


def test_v0_transaction_through_the_table_lands(bank: Bank, payer: Keypair) -> None:
    dests = ADDRS[:30]
    table = _create_and_extend(bank, payer, dests)
    # Addresses appended in the current slot are not usable yet (runtime rule).
    acc = bank.get_account(table)
    assert acc is not None
    assert active_addresses(acc.data, bank.slot) == []
    bank.advance_slot()
    assert active_addresses(acc.data, bank.slot) == dests
    alt = AddressLookupTableAccount(table, list(AddressLookupTable.deserialize(acc.data).addresses))
    ixs = [transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=d, lamports=SOL // 100))
           for d in dests]
    plain = MessageV0.try_compile(payer.pubkey(), ixs, [], bank.latest_blockhash()[0])
    tabled = MessageV0.try_compile(payer.pubkey(), ixs, [alt], bank.latest_blockhash()[0])
    assert len(bytes(VersionedTransaction(plain, [payer]))) > 1232
    assert len(bytes(VersionedTransaction(tabled, [payer]))) < 800  # 31 bytes saved per key
    assert _send(bank, payer, ixs, [alt]) is None
    assert all(bank.get_balance(d) == SOL // 100 for d in dests)


def test_deactivate_and_close(bank: Bank, payer: Keypair) -> None:
    key = payer.pubkey()
    table = _create_and_extend(bank, payer, ADDRS[:3])
    deactivate = Instruction(ADDRESS_LOOKUP_TABLE_PROGRAM_ID, (3).to_bytes(4, "little"), [
        AccountMeta(table, False, True), AccountMeta(key, True, False)])
    close = Instruction(ADDRESS_LOOKUP_TABLE_PROGRAM_ID, (4).to_bytes(4, "little"), [
        AccountMeta(table, False, True), AccountMeta(key, True, False), AccountMeta(key, False, True)])
    assert _send(bank, payer, [close]) == {"InstructionError": [0, "InvalidArgument"]}
    assert _send(bank, payer, [deactivate]) is None
    acc = bank.get_account(table)
    assert acc is not None
    assert AddressLookupTable.deserialize(acc.data).meta.deactivation_slot == bank.slot
    bank.advance_slot()
    assert active_addresses(acc.data, bank.slot) == ADDRS[:3]  # deactivating: still usable
    assert _send(bank, payer, [close]) == {"InstructionError": [0, "InvalidArgument"]}
    for _ in range(513):
        bank.advance_slot()
    assert active_addresses(acc.data, bank.slot) is None
    before = bank.get_balance(key)
    assert _send(bank, payer, [close]) is None
    assert bank.get_account(table) is None
    assert bank.get_balance(key) == before + acc.lamports - 5000


def test_litesvm_parity(bank: Bank, payer: Keypair) -> None:
    """The same create + extend on LiteSVM (the real program) yields identical account bytes."""
    svm = LiteSVM()
    svm.warp_to_slot(bank.slot)
    key = payer.pubkey()
    svm.airdrop(key, 10 * SOL)
    recent = bank.slot - 1
    svm.set_slot_hashes([(recent, Hash.default())])  # warp does not fill SlotHashes
    ix, table = create_lookup_table_ix(key, key, recent)
    ext = [extend_lookup_table_ix(table, key, key, ADDRS[i:i + 20]) for i in (0, 20)]
    for group in ([ix], [ext[0]], [ext[1]]):
        msg = MessageV0.try_compile(key, group, [], svm.latest_blockhash())
        res = svm.send_transaction(VersionedTransaction(msg, [payer]))
        assert not isinstance(res, FailedTransactionMetadata), (res.err(), res.meta().logs())
        assert _send(bank, payer, group) is None
        svm.expire_blockhash()
    real, ours = svm.get_account(table), bank.get_account(table)
    assert real is not None and ours is not None
    assert bytes(real.data) == ours.data
    assert (real.lamports, real.owner) == (ours.lamports, ours.owner)
