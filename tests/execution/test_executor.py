"""Executor against a scripted fake RPC (RpcSender over it is the real sender)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.support.exec_fixtures import FakeRpc, ata, balance, hop, load_pools, make_order, recorded_transaction
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from solarb.dex.spl_token import WSOL_MINT
from solarb.events import Order, TxStatus
from solarb.execution.builder import TxBuilder
from solarb.execution.errors import ConfirmTimeout
from solarb.execution.executor import Executor
from solarb.execution.senders.rpc import RpcSender
from solarb.monitor.journal import Journal
from solarb.rpc.errors import RpcTimeout, TransactionRejected

POOLS = load_pools()
AMM = next(s for a, s, _aux in POOLS.values() if s.dex == "raydium_amm_v4")
SOL_TO_USDC = AMM.mint_a == WSOL_MINT
USDC = AMM.mint_b if SOL_TO_USDC else AMM.mint_a
PAYER = Keypair.from_seed(bytes([7]) * 32)
ME = PAYER.pubkey()


def order(min_out: int = 1_000_000_500) -> Order:
    return make_order(
        [hop(AMM, SOL_TO_USDC, 1_000_000_000, 150_000_000),
         hop(AMM, not SOL_TO_USDC, 150_000_000, 1_000_000_600)],
        min_out,
    )


def setup(tmp_path: Path, rpc: FakeRpc, **kw: object) -> tuple[Executor, Journal, TxBuilder]:
    builder = TxBuilder(PAYER, POOLS.__getitem__, compute_unit_limit=200_000,  # type: ignore[arg-type]
                        priority_fee_micro_lamports=1_000)
    journal = Journal(tmp_path / "sim.sqlite")
    args: dict[str, object] = dict(poll_interval_s=0.001, rebroadcast_interval_s=0.0,
                                   confirm_timeout_s=5.0)
    args.update(kw)
    return Executor(rpc, RpcSender(rpc), builder, journal, **args), journal, builder  # type: ignore[arg-type]


def signature_of(builder: TxBuilder, rpc: FakeRpc, o: Order) -> str:
    """Signing is deterministic (ed25519): the executor will produce exactly this signature."""
    return str(builder.build(o, rpc.blockhash).signatures[0])


async def test_simulation_failure_is_journaled_and_not_sent(tmp_path: Path) -> None:
    rpc = FakeRpc(sim_err={"InstructionError": [3, {"Custom": 30}]})
    ex, journal, _ = setup(tmp_path, rpc)
    outcome = await ex.execute(order())
    assert outcome.status is TxStatus.SIMULATION_FAILED
    assert "Custom" in (outcome.error or "") and "Program log: fake" in (outcome.error or "")
    assert "sendTransaction" not in rpc.calls and rpc.sent == []
    assert journal.order_status("o1") == "simulation_failed"
    assert journal.pending() == [] and journal.counts()["sent"] == 0


async def test_confirmed_path_records_exact_deltas_and_fee(tmp_path: Path) -> None:
    rpc = FakeRpc(land_status={"slot": 321, "err": None, "confirmationStatus": "confirmed"},
                  land_after_polls=2, tx_visible_after=1)
    ex, journal, builder = setup(tmp_path, rpc)
    o = order()
    sig = signature_of(builder, rpc, o)
    wsol, usdc = ata(ME, WSOL_MINT), ata(ME, USDC)
    vault_owner = Pubkey.new_unique()
    rpc.transactions[sig] = recorded_transaction(
        sig, 321, 5_200, None,
        pre=[balance(1, WSOL_MINT, ME, 5_000_000_000), balance(2, USDC, ME, 0),
             balance(3, WSOL_MINT, vault_owner, 9_000_000_000)],
        post=[balance(1, WSOL_MINT, ME, 5_000_000_650), balance(2, USDC, ME, 0),
              balance(3, WSOL_MINT, vault_owner, 8_999_999_350)],
    )
    seen_pending: list[list[str]] = []
    real_send = rpc.send_transaction

    async def spy_send(raw: bytes, **kw: object) -> str:
        seen_pending.append([p.signature for p in journal.pending()])
        return await real_send(raw, **kw)  # type: ignore[arg-type]

    rpc.send_transaction = spy_send  # type: ignore[method-assign]
    outcome = await ex.execute(o)
    assert outcome.status is TxStatus.CONFIRMED and outcome.signature == sig and outcome.slot == 321
    assert seen_pending and seen_pending[0] == [sig]  # journaled BEFORE the first send
    assert rpc.calls.index("simulateTransaction") < rpc.calls.index("sendTransaction")
    assert journal.deltas(sig) == {str(WSOL_MINT): 650}  # vault (other owner) excluded
    assert journal.pnl() == {str(WSOL_MINT): 650} and journal.fees_paid() == 5_200
    assert journal.pending() == [] and journal.order_status("o1") == "confirmed"
    assert wsol in builder.known_atas and usdc in builder.known_atas
    assert len({bytes(r) for r in rpc.sent}) == 1  # rebroadcasts are the same bytes
    tx = VersionedTransaction.from_bytes(rpc.sent[0])
    assert tx.verify_with_results() == [True]


async def test_expiry_path_rebroadcasts_same_bytes_then_expires(tmp_path: Path) -> None:
    rpc = FakeRpc(height=100, height_step=10, last_valid=150)
    ex, journal, builder = setup(tmp_path, rpc)
    outcome = await ex.execute(order())
    assert outcome.status is TxStatus.EXPIRED
    # heights 110..150 are still valid: 5 rebroadcasts; 160 > 150 ends it
    assert ex.last_confirm is not None and ex.last_confirm.rebroadcasts == 5
    assert len(rpc.sent) == 6 and len(set(rpc.sent)) == 1  # never re-signed
    assert journal.order_status("o1") == "expired" and journal.pending() == []
    assert builder.known_atas == set()  # nothing was created


async def test_on_chain_failure_records_fee_and_no_pnl(tmp_path: Path) -> None:
    err = {"InstructionError": [5, {"Custom": 30}]}
    rpc = FakeRpc(land_status={"slot": 9, "err": err, "confirmationStatus": "processed"})
    ex, journal, builder = setup(tmp_path, rpc)
    o = order()
    sig = signature_of(builder, rpc, o)
    rpc.transactions[sig] = recorded_transaction(sig, 9, 5_200, err, [], [])
    outcome = await ex.execute(o)
    assert outcome.status is TxStatus.FAILED and "Custom" in (outcome.error or "")
    assert journal.pnl() == {} and journal.fees_paid() == 5_200
    assert journal.order_status("o1") == "failed"


async def test_profit_guard_fails_order_without_sending(tmp_path: Path) -> None:
    rpc = FakeRpc()
    ex, journal, _ = setup(tmp_path, rpc)
    outcome = await ex.execute(order(min_out=1_000_000_000))
    assert outcome.status is TxStatus.FAILED and outcome.signature is None
    assert "min_out" in (outcome.error or "")
    assert rpc.sent == [] and journal.order_status("o1") == "failed"


async def test_rejected_send_fails_the_order(tmp_path: Path) -> None:
    rpc = FakeRpc()

    async def refuse(raw: bytes, **kw: object) -> str:
        raise TransactionRejected(-32003, "Transaction signature verification failure")

    rpc.send_transaction = refuse  # type: ignore[method-assign]
    ex, journal, _ = setup(tmp_path, rpc)
    outcome = await ex.execute(order())
    assert outcome.status is TxStatus.FAILED and "refused" in (outcome.error or "")
    assert journal.pending() == []


async def test_retryable_first_send_still_confirms_by_rebroadcast(tmp_path: Path) -> None:
    rpc = FakeRpc(land_status={"slot": 5, "err": None, "confirmationStatus": "finalized"},
                  land_after_polls=3)
    real_send = rpc.send_transaction
    attempts = 0

    async def flaky(raw: bytes, **kw: object) -> str:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RpcTimeout("read timeout")
        return await real_send(raw, **kw)  # type: ignore[arg-type]

    rpc.send_transaction = flaky  # type: ignore[method-assign]
    ex, journal, builder = setup(tmp_path, rpc)
    o = order()
    sig = signature_of(builder, rpc, o)
    rpc.transactions[sig] = recorded_transaction(sig, 5, 5_200, None, [], [])
    outcome = await ex.execute(o)
    assert outcome.status is TxStatus.CONFIRMED and attempts >= 2


async def test_unknown_outcome_stays_pending_for_reconcile(tmp_path: Path) -> None:
    rpc = FakeRpc(height=100, height_step=0, last_valid=150)
    ex, journal, _ = setup(tmp_path, rpc, confirm_timeout_s=0.05)
    with pytest.raises(ConfirmTimeout):
        await ex.execute(order())
    assert [p.order_id for p in journal.pending()] == ["o1"]
    assert journal.order_status("o1") is None
