"""Journal: SQLite WAL round trip, pending/reconcile, exact P&L sums."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from solders.pubkey import Pubkey

from solarb.events import Hop, Opportunity, Order, TxOutcome, TxStatus, Verdict
from solarb.monitor.journal import Journal

MINT_A = Pubkey.from_string("So11111111111111111111111111111111111111112")
MINT_B = Pubkey.from_string("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v")
OWNER = Pubkey.from_string("FAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF")
BIG = 2**64 - 1  # a u64 amount SQLite INTEGER could not hold


def order(oid: str, amount_in: int = 1_000, out: int = 1_100) -> Order:
    hops = (
        Hop(Pubkey.new_unique(), "raydium_cpmm", True, MINT_A, MINT_B, amount_in, 5_000),
        Hop(Pubkey.new_unique(), "raydium_amm_v4", False, MINT_B, MINT_A, 5_000, out),
    )
    opp = Opportunity(f"opp-{oid}", MINT_A, hops, amount_in, out, 42, 1, 2)
    return Order(oid, opp, amount_in + 1)


def tx_reply(slot: int, fee: int, err: Any, pre: int, post: int) -> dict[str, Any]:
    def bal(amount: int, owner: Pubkey = OWNER) -> dict[str, Any]:
        return {"accountIndex": 1, "mint": str(MINT_A), "owner": str(owner),
                "uiTokenAmount": {"amount": str(amount), "decimals": 9}}
    return {"slot": slot, "meta": {"err": err, "fee": fee,
            "preTokenBalances": [bal(pre), bal(7, MINT_B)],
            "postTokenBalances": [bal(post), bal(9, MINT_B)]}}


def test_wal_round_trip_counts_and_pnl(tmp_path: Path) -> None:
    path = tmp_path / "j" / "paper.sqlite"
    with Journal(path) as j:
        assert j.journal_mode() == "wal"
        o1, o2, o3 = order("o1"), order("o2", BIG - 10, BIG), order("o3")
        j.record_opportunity(o1.opportunity)
        j.record_verdict(Verdict(o1.opportunity.id, True))
        j.record_verdict(Verdict("opp-x", False, "max exposure"))
        for o in (o1, o2, o3):
            j.record_order(o)
        j.record_sent("o1", "sig1", b"\x01raw1", 500)
        j.record_sent("o2", "sig2", b"\x02raw2", 501)
        j.record_outcome(TxOutcome("o1", "sig1", TxStatus.CONFIRMED, 77),
                         {str(MINT_A): 100, str(MINT_B): -3}, 5_000)
        j.record_outcome(TxOutcome("o2", "sig2", TxStatus.CONFIRMED, 78), {str(MINT_A): BIG}, 6_000)
        j.record_outcome(TxOutcome("o3", "sig3", TxStatus.SIMULATION_FAILED, error="x"), {}, None)
    # reopen: everything persisted
    with Journal(path) as j:
        assert j.pnl() == {str(MINT_A): 100 + BIG, str(MINT_B): -3}
        assert j.fees_paid() == 11_000
        assert j.deltas("sig1") == {str(MINT_A): 100, str(MINT_B): -3}
        c = j.counts()
        assert (c["opportunities"], c["approved"], c["rejected"], c["orders"], c["sent"]) == (
            3, 1, 1, 3, 2)
        assert (c["confirmed"], c["simulation_failed"], c["failed"], c["pending"]) == (2, 1, 0, 0)
        row = j.transaction("sig1")
        assert row is not None and row["raw"] == b"\x01raw1" and row["slot"] == 77
        assert j.order_status("o3") == "simulation_failed"
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_failed_outcome_keeps_no_deltas(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as j:
        j.record_order(order("o1"))
        j.record_sent("o1", "sig1", b"r", 10)
        j.record_outcome(TxOutcome("o1", "sig1", TxStatus.FAILED, 5, '{"Custom":30}'),
                         {str(MINT_A): -1000}, 5_000)
        assert j.pnl() == {}
        assert j.fees_paid() == 5_000
        assert j.counts()["failed"] == 1


class ReconcileRpc:
    def __init__(self, statuses: dict[str, Any], txs: dict[str, Any], height: int) -> None:
        self.statuses, self.txs, self.height = statuses, txs, height
        self.sent: list[bytes] = []

    async def get_signature_statuses(
        self, signatures: Sequence[str], *, search_transaction_history: bool = False
    ) -> list[dict[str, Any] | None]:
        assert search_transaction_history
        return [self.statuses.get(s) for s in signatures]

    async def get_transaction(self, signature: str) -> dict[str, Any] | None:
        return self.txs.get(signature)

    async def get_block_height(self) -> int:
        return self.height


async def test_pending_and_reconcile_after_crash(tmp_path: Path) -> None:
    path = tmp_path / "live.sqlite"
    j = Journal(path)
    for oid in ("landed", "failed", "gone", "inflight"):
        j.record_order(order(oid))
        j.record_sent(oid, f"sig-{oid}", oid.encode(), 200 if oid != "inflight" else 400)
    j.close()  # crash: nothing resolved
    j = Journal(path)
    assert [p.signature for p in j.pending()] == ["sig-landed", "sig-failed", "sig-gone",
                                                   "sig-inflight"]
    assert j.pending()[0].raw == b"landed" and j.pending()[0].last_valid_block_height == 200
    rpc = ReconcileRpc(
        statuses={
            "sig-landed": {"slot": 90, "err": None, "confirmationStatus": "finalized"},
            "sig-failed": {"slot": 91, "err": {"InstructionError": [3, {"Custom": 30}]},
                           "confirmationStatus": "confirmed"},
        },
        txs={"sig-landed": tx_reply(90, 5_000, None, 1_000, 1_250),
             "sig-failed": tx_reply(91, 5_000, {"InstructionError": [3, {"Custom": 30}]}, 1_000,
                                    1_000)},
        height=300,
    )
    outcomes = await j.reconcile(rpc, OWNER)
    by = {o.order_id: o for o in outcomes}
    assert set(by) == {"landed", "failed", "gone"}
    assert by["landed"].status is TxStatus.CONFIRMED and by["landed"].slot == 90
    assert by["failed"].status is TxStatus.FAILED and "Custom" in (by["failed"].error or "")
    assert by["gone"].status is TxStatus.EXPIRED
    assert [p.signature for p in j.pending()] == ["sig-inflight"]  # still valid: may land
    assert j.pnl() == {str(MINT_A): 250}
    assert j.fees_paid() == 10_000
    assert rpc.sent == []  # reconcile never sends
    assert await j.reconcile(rpc, OWNER) == []  # idempotent
    j.close()
