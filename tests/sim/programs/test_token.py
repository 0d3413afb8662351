"""SPL Token / ATA models (instructions built with solana-py's spl.token builders), and the
InvokeContext seen by a third-party program model (token_transfer CPI, PDA signing, write rules)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import CreateAccountParams, TransferParams, create_account, transfer
from solders.transaction import VersionedTransaction
from spl.token import instructions as spl
from spl.token import models as M

from solarb.dex.spl_token import (
    MINT_LEN, TOKEN_ACCOUNT_LEN, TOKEN_PROGRAM_ID, WSOL_MINT, decode_mint, decode_token_account,
)
from solarb.sim.accounts import Account, rent_exempt_minimum
from solarb.sim.bank import Bank
from solarb.sim.programs.associated_token import associated_token_address
from solarb.sim.programs.base import AccountRef, InvokeContext

SOL = 1_000_000_000
TP = TOKEN_PROGRAM_ID
VAULT_PROGRAM = Pubkey.from_string("CPMMoo8L3F4NbTegBCKVNunggL7H1ZpdTHKxQB5qKP1C")


class VaultModel:
    """A minimal DEX-like program: pays ``amount`` out of a PDA-owned vault, or scribbles on data."""

    program_id = VAULT_PROGRAM

    def execute(self, ctx: InvokeContext, accounts: Sequence[AccountRef], data: bytes) -> None:
        ctx.consume(1000)
        vault, dest, authority = (a.pubkey for a in accounts[:3])
        if data[0] == 0:
            ctx.token_transfer(vault, dest, authority, int.from_bytes(data[1:9], "little"), pda_signed=True)
        elif data[0] == 1:  # not pda-signed: the authority did not sign
            ctx.token_transfer(vault, dest, authority, 1)
        else:  # write a token account it does not own
            acc = ctx.get(vault)
            assert acc is not None
            ctx.set(vault, Account(acc.lamports, bytes(len(acc.data)), acc.owner))
        ctx.log("done")


@pytest.fixture()
def bank() -> Bank:
    return Bank(programs=[VaultModel()])


@pytest.fixture()
def payer(bank: Bank) -> Keypair:
    kp = Keypair.from_seed(bytes([4] * 32))
    bank.airdrop(kp.pubkey(), 100 * SOL)
    return kp


def _send(bank: Bank, payer: Keypair, ixs: Sequence[Instruction], *extra: Keypair) -> object:
    msg = Message.new_with_blockhash(list(ixs), payer.pubkey(), bank.latest_blockhash()[0])
    rec = bank.transaction(bank.process_transaction(VersionedTransaction(msg, [payer, *extra])))
    assert rec is not None
    return rec.err


def _mint(bank: Bank, payer: Keypair, decimals: int = 6) -> Pubkey:
    mint = Keypair()
    ixs = [create_account(CreateAccountParams(from_pubkey=payer.pubkey(), to_pubkey=mint.pubkey(),
                                              lamports=rent_exempt_minimum(MINT_LEN), space=MINT_LEN, owner=TP)),
           spl.initialize_mint(M.InitializeMintParams(decimals=decimals, program_id=TP, mint=mint.pubkey(),
                                                      mint_authority=payer.pubkey()))]
    assert _send(bank, payer, ixs, mint) is None
    return mint.pubkey()


def _account(bank: Bank, payer: Keypair, mint: Pubkey, owner: Pubkey, amount: int = 0) -> Pubkey:
    acct = Keypair()
    ixs = [create_account(CreateAccountParams(from_pubkey=payer.pubkey(), to_pubkey=acct.pubkey(),
                                              lamports=rent_exempt_minimum(165), space=165, owner=TP)),
           spl.initialize_account3(M.InitializeAccount3Params(program_id=TP, account=acct.pubkey(), mint=mint,
                                                               owner=owner))]
    if amount:
        ixs.append(spl.mint_to(M.MintToParams(program_id=TP, mint=mint, dest=acct.pubkey(),
                                              mint_authority=payer.pubkey(), amount=amount)))
    assert _send(bank, payer, ixs, acct) is None
    return acct.pubkey()


def _amount(bank: Bank, key: Pubkey) -> int:
    acc = bank.get_account(key)
    assert acc is not None
    return decode_token_account(acc.data).amount


def _xfer(src: Pubkey, dst: Pubkey, owner: Pubkey, amount: int) -> Instruction:
    return spl.transfer(M.TransferParams(program_id=TP, source=src, dest=dst, owner=owner, amount=amount))


def test_mint_and_accounts_initialize(bank: Bank, payer: Keypair) -> None:
    mint = _mint(bank, payer, 6)
    acct = _account(bank, payer, mint, payer.pubkey(), 1000)
    state = decode_token_account(bank.get_account(acct).data)  # type: ignore[union-attr]
    assert (state.mint, state.owner, state.amount, state.is_native) == (mint, payer.pubkey(), 1000, None)
    m = decode_mint(bank.get_account(mint).data)  # type: ignore[union-attr]
    assert (m.supply, m.decimals, m.mint_authority) == (1000, 6, payer.pubkey())
    again = spl.initialize_account3(M.InitializeAccount3Params(program_id=TP, account=acct, mint=mint,
                                                                owner=payer.pubkey()))
    assert _send(bank, payer, [again]) == {"InstructionError": [0, {"Custom": 6}]}  # AlreadyInUse


def test_transfer_errors(bank: Bank, payer: Keypair) -> None:
    mint, other_mint = _mint(bank, payer), _mint(bank, payer, 9)
    a = _account(bank, payer, mint, payer.pubkey(), 500)
    b = _account(bank, payer, mint, Pubkey.new_unique())
    c = _account(bank, payer, other_mint, payer.pubkey())
    assert _send(bank, payer, [_xfer(a, b, payer.pubkey(), 501)]) == {"InstructionError": [0, {"Custom": 1}]}
    assert _send(bank, payer, [_xfer(a, c, payer.pubkey(), 1)]) == {"InstructionError": [0, {"Custom": 3}]}
    thief = Keypair()
    assert _send(bank, payer, [_xfer(a, b, thief.pubkey(), 1)], thief) == {"InstructionError": [0, {"Custom": 4}]}
    alice = Pubkey.new_unique()  # owns d but does not sign
    d = _account(bank, payer, mint, alice, 5)
    unsigned = _xfer(d, b, alice, 1)
    unsigned = Instruction(TP, unsigned.data, [*unsigned.accounts[:2], AccountMeta(alice, False, False)])
    assert _send(bank, payer, [unsigned]) == {"InstructionError": [0, "MissingRequiredSignature"]}
    wrong_decimals = spl.transfer_checked(M.TransferCheckedParams(
        program_id=TP, source=a, mint=mint, dest=b, owner=payer.pubkey(), amount=1, decimals=9))
    assert _send(bank, payer, [wrong_decimals]) == {"InstructionError": [0, {"Custom": 18}]}
    assert _amount(bank, a) == 500
    ok = spl.transfer_checked(M.TransferCheckedParams(
        program_id=TP, source=a, mint=mint, dest=b, owner=payer.pubkey(), amount=200, decimals=6))
    assert _send(bank, payer, [ok]) is None
    assert (_amount(bank, a), _amount(bank, b)) == (300, 200)


def test_burn_close_and_delegate(bank: Bank, payer: Keypair) -> None:
    mint = _mint(bank, payer)
    a = _account(bank, payer, mint, payer.pubkey(), 100)
    b = _account(bank, payer, mint, payer.pubkey())
    close = spl.close_account(M.CloseAccountParams(program_id=TP, account=a, dest=payer.pubkey(), owner=payer.pubkey()))
    assert _send(bank, payer, [close]) == {"InstructionError": [0, {"Custom": 11}]}  # NonNativeHasBalance
    delegate = Keypair()
    approve = spl.approve(M.ApproveParams(program_id=TP, source=a, delegate=delegate.pubkey(),
                                          owner=payer.pubkey(), amount=30))
    assert _send(bank, payer, [approve]) is None
    assert _send(bank, payer, [_xfer(a, b, delegate.pubkey(), 31)], delegate) == {"InstructionError": [0, {"Custom": 1}]}
    assert _send(bank, payer, [_xfer(a, b, delegate.pubkey(), 30)], delegate) is None
    assert decode_token_account(bank.get_account(a).data).delegate is None  # type: ignore[union-attr]
    burn = spl.burn(M.BurnParams(program_id=TP, account=a, mint=mint, owner=payer.pubkey(), amount=70))
    before = bank.get_balance(payer.pubkey())
    assert _send(bank, payer, [burn, close]) is None
    assert bank.get_account(a) is None
    assert bank.get_balance(payer.pubkey()) == before - 5000 + rent_exempt_minimum(165)
    assert decode_mint(bank.get_account(mint).data).supply == 30  # type: ignore[union-attr]


def test_native_account_wrap_sync_unwrap(bank: Bank, payer: Keypair) -> None:
    owner = payer.pubkey()
    ata = associated_token_address(owner, WSOL_MINT, TP)[0]
    create = spl.create_associated_token_account(owner, owner, WSOL_MINT)
    fund = transfer(TransferParams(from_pubkey=owner, to_pubkey=ata, lamports=3 * SOL))
    sync = spl.sync_native(M.SyncNativeParams(program_id=TP, account=ata))
    assert _send(bank, payer, [create, fund, sync]) is None
    state = decode_token_account(bank.get_account(ata).data)  # type: ignore[union-attr]
    assert (state.amount, state.is_native) == (3 * SOL, rent_exempt_minimum(165))
    assert _send(bank, payer, [create]) == {"InstructionError": [0, "IllegalOwner"]}  # plain Create: exists
    mint_wsol = spl.mint_to(M.MintToParams(program_id=TP, mint=WSOL_MINT, dest=ata, mint_authority=owner, amount=1))
    assert _send(bank, payer, [mint_wsol]) == {"InstructionError": [0, {"Custom": 10}]}
    other = Keypair().pubkey()
    other_ata = associated_token_address(other, WSOL_MINT, TP)[0]
    ixs = [spl.create_idempotent_associated_token_account(owner, other, WSOL_MINT), _xfer(ata, other_ata, owner, SOL)]
    assert _send(bank, payer, ixs) is None
    assert bank.get_balance(other_ata) == SOL + rent_exempt_minimum(165)
    assert bank.get_balance(ata) == 2 * SOL + rent_exempt_minimum(165)
    before = bank.get_balance(owner)
    close = spl.close_account(M.CloseAccountParams(program_id=TP, account=ata, dest=owner, owner=owner))
    assert _send(bank, payer, [close]) is None
    assert bank.get_balance(owner) == before - 5000 + 2 * SOL + rent_exempt_minimum(165)
    assert bank.get_account(ata) is None and ata not in {k for k, _ in bank.get_program_accounts(TP)}


def test_ata_wrong_address_and_owner(bank: Bank, payer: Keypair) -> None:
    mint = _mint(bank, payer)
    ix = spl.create_idempotent_associated_token_account(payer.pubkey(), payer.pubkey(), mint)
    metas = list(ix.accounts)
    metas[1] = AccountMeta(Pubkey.new_unique(), False, True)
    assert _send(bank, payer, [Instruction(ix.program_id, ix.data, metas)]) == {"InstructionError": [0, "InvalidSeeds"]}
    assert _send(bank, payer, [ix, ix]) is None  # second one is a no-op
    rec_acc = bank.get_account(metas[0].pubkey)
    assert rec_acc is not None


def test_program_model_cpi_token_transfer(bank: Bank, payer: Keypair) -> None:
    mint = _mint(bank, payer)
    pda = Pubkey.find_program_address([b"vault"], VAULT_PROGRAM)[0]
    vault = _account(bank, payer, mint, pda, 1000)
    dest = _account(bank, payer, mint, payer.pubkey())

    def call(tag: int, amount: int = 0) -> object:
        metas = [AccountMeta(vault, False, True), AccountMeta(dest, False, True), AccountMeta(pda, False, False),
                 AccountMeta(TP, False, False)]
        return _send(bank, payer, [Instruction(VAULT_PROGRAM, bytes([tag]) + amount.to_bytes(8, "little"), metas)])

    assert call(0, 400) is None
    assert (_amount(bank, vault), _amount(bank, dest)) == (600, 400)
    assert call(0, 601) == {"InstructionError": [0, {"Custom": 1}]}
    assert call(1) == {"InstructionError": [0, "PrivilegeEscalation"]}
    assert call(2) == {"InstructionError": [0, "ExternalAccountDataModified"]}
    sig = bank.process_transaction(VersionedTransaction(Message.new_with_blockhash(
        [Instruction(VAULT_PROGRAM, bytes([0]) + (5).to_bytes(8, "little"),
                     [AccountMeta(vault, False, True), AccountMeta(dest, False, True), AccountMeta(pda, False, False)])],
        payer.pubkey(), bank.latest_blockhash()[0]), [payer]))
    logs = bank.transaction(sig).logs  # type: ignore[union-attr]
    assert logs[0] == f"Program {VAULT_PROGRAM} invoke [1]"
    assert logs[1] == f"Program {TP} invoke [2]" and logs[2] == "Program log: Instruction: Transfer"
    assert logs[-3:] == ["Program log: done", f"Program {VAULT_PROGRAM} consumed 5645 of 200000 compute units",
                         f"Program {VAULT_PROGRAM} success"]
    rec = bank.transaction(sig)
    assert rec is not None
    assert {rec.account_keys[t.account_index]: t.amount for t in rec.post_token_balances} == {vault: 595, dest: 405}
    assert {rec.account_keys[t.account_index]: t.amount for t in rec.pre_token_balances} == {vault: 600, dest: 400}
    assert len(bank.get_account(vault).data) == TOKEN_ACCOUNT_LEN  # type: ignore[union-attr]
