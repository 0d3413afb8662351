"""System program model, driven by instructions built with solders' own System builders."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import (
    AllocateParams, AssignParams, CreateAccountParams, CreateAccountWithSeedParams, TransferParams, allocate,
    assign, create_account, create_account_with_seed, transfer,
)
from solders.transaction import VersionedTransaction

from solarb.dex.spl_token import SYSTEM_PROGRAM_ID
from solarb.sim.accounts import Account, rent_exempt_minimum
from solarb.sim.bank import Bank

SOL = 1_000_000_000
OWNER = Pubkey.from_string("CAMMCzo5YL8w4VFF8KVHrK22GGUsp5VTaW7grrKgrWqK")


@pytest.fixture()
def bank() -> Bank:
    return Bank()


@pytest.fixture()
def payer(bank: Bank) -> Keypair:
    kp = Keypair.from_seed(bytes([2] * 32))
    bank.airdrop(kp.pubkey(), 10 * SOL)
    return kp


def _send(bank: Bank, payer: Keypair, ixs: Sequence[Instruction], *extra: Keypair) -> object:
    msg = Message.new_with_blockhash(list(ixs), payer.pubkey(), bank.latest_blockhash()[0])
    rec = bank.transaction(bank.process_transaction(VersionedTransaction(msg, [payer, *extra])))
    assert rec is not None
    return rec.err


def test_create_account(bank: Bank, payer: Keypair) -> None:
    new = Keypair()
    rent = rent_exempt_minimum(100)
    ix = create_account(CreateAccountParams(from_pubkey=payer.pubkey(), to_pubkey=new.pubkey(),
                                            lamports=rent, space=100, owner=OWNER))
    assert _send(bank, payer, [ix], new) is None
    assert bank.get_account(new.pubkey()) == Account(rent, bytes(100), OWNER)
    assert bank.get_balance(payer.pubkey()) == 10 * SOL - rent - 10_000
    assert [k for k, _ in bank.get_program_accounts(OWNER)] == [new.pubkey()]
    # the same address again: AccountAlreadyInUse (0)
    ix2 = create_account(CreateAccountParams(from_pubkey=payer.pubkey(), to_pubkey=new.pubkey(),
                                             lamports=rent + 1, space=100, owner=OWNER))
    assert _send(bank, payer, [ix2], new) == {"InstructionError": [0, {"Custom": 0}]}


def test_create_account_requires_new_account_signature(bank: Bank, payer: Keypair) -> None:
    new = Pubkey.new_unique()
    ix = create_account(CreateAccountParams(from_pubkey=payer.pubkey(), to_pubkey=new, lamports=SOL,
                                            space=0, owner=OWNER))
    unsigned = Instruction(ix.program_id, ix.data, [ix.accounts[0], AccountMeta(new, False, True)])
    assert _send(bank, payer, [unsigned]) == {"InstructionError": [0, "MissingRequiredSignature"]}
    assert bank.get_account(new) is None


def test_allocate_then_assign(bank: Bank, payer: Keypair) -> None:
    acct = Keypair()
    bank.airdrop(acct.pubkey(), rent_exempt_minimum(64))
    ixs = [allocate(AllocateParams(pubkey=acct.pubkey(), space=64)),
           assign(AssignParams(pubkey=acct.pubkey(), owner=OWNER))]
    assert _send(bank, payer, ixs, acct) is None
    assert bank.get_account(acct.pubkey()) == Account(rent_exempt_minimum(64), bytes(64), OWNER)
    # now owned by another program: the System program can no longer allocate or debit it
    again = allocate(AllocateParams(pubkey=acct.pubkey(), space=64))
    assert _send(bank, payer, [again], acct) == {"InstructionError": [0, {"Custom": 0}]}


def test_create_account_with_seed(bank: Bank, payer: Keypair) -> None:
    base = payer.pubkey()
    derived = Pubkey.create_with_seed(base, "vault-1", OWNER)
    params = dict(from_pubkey=base, to_pubkey=derived, base=base, seed="vault-1",
                  lamports=rent_exempt_minimum(8), space=8, owner=OWNER)
    assert _send(bank, payer, [create_account_with_seed(CreateAccountWithSeedParams(**params))]) is None
    assert bank.get_account(derived) == Account(rent_exempt_minimum(8), bytes(8), OWNER)
    params["to_pubkey"] = Pubkey.new_unique()
    bad = create_account_with_seed(CreateAccountWithSeedParams(**params))
    assert _send(bank, payer, [bad]) == {"InstructionError": [0, {"Custom": 5}]}


def test_transfer_rules(bank: Bank, payer: Keypair) -> None:
    to = Pubkey.new_unique()
    big = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=to, lamports=11 * SOL))
    assert _send(bank, payer, [big]) == {"InstructionError": [0, {"Custom": 1}]}
    data_acct = Keypair()
    bank.set_account(data_acct.pubkey(), Account(SOL, b"\x00", SYSTEM_PROGRAM_ID))
    ix = transfer(TransferParams(from_pubkey=data_acct.pubkey(), to_pubkey=to, lamports=1))
    assert _send(bank, payer, [ix], data_acct) == {"InstructionError": [0, "InvalidArgument"]}
    garbage = Instruction(SYSTEM_PROGRAM_ID, b"\x63\x00\x00\x00", [AccountMeta(payer.pubkey(), True, True)])
    assert _send(bank, payer, [garbage]) == {"InstructionError": [0, "InvalidInstructionData"]}
