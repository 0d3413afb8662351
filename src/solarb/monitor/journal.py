"""The journal: every opportunity, verdict, order, sent transaction and outcome, in SQLite (WAL).

Write order is the safety contract: an order is recorded before anything is sent, and a
transaction's signature and exact signed bytes are recorded BEFORE they are sent, so after a
crash :meth:`Journal.reconcile` can resolve every sent-but-unresolved signature instead of
sending the order again. Paper/sim and live journals are separate files (the caller's path).

Token amounts are stored as decimal TEXT (u64 amounts and deltas do not fit SQLite's signed
64-bit INTEGER in general) and summed exactly in Python.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from solders.pubkey import Pubkey

from solarb.events import Opportunity, Order, TxOutcome, TxStatus, Verdict
from solarb.execution.confirm import err_text, status_outcome, tx_effects
from solarb.runtime.clock import Clock, SystemClock

_SCHEMA = """
CREATE TABLE IF NOT EXISTS opportunities (
    id TEXT PRIMARY KEY, start_mint TEXT NOT NULL, amount_in TEXT NOT NULL,
    amount_out TEXT NOT NULL, slot INTEGER NOT NULL, ts_recv_ns INTEGER NOT NULL,
    ts_detect_ns INTEGER NOT NULL, hops TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS verdicts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, opportunity_id TEXT NOT NULL,
    approved INTEGER NOT NULL, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY, opportunity_id TEXT NOT NULL, min_out TEXT NOT NULL,
    status TEXT, error TEXT, created_at REAL, resolved_at REAL);
CREATE TABLE IF NOT EXISTS transactions (
    signature TEXT PRIMARY KEY, order_id TEXT NOT NULL, raw TEXT NOT NULL,
    last_valid_block_height INTEGER NOT NULL, status TEXT NOT NULL DEFAULT 'pending',
    slot INTEGER, err TEXT, fee INTEGER, sent_at REAL);
CREATE INDEX IF NOT EXISTS transactions_status ON transactions(status);
CREATE TABLE IF NOT EXISTS token_deltas (
    signature TEXT NOT NULL, mint TEXT NOT NULL, delta TEXT NOT NULL,
    PRIMARY KEY (signature, mint));
"""

PENDING = "pending"


@dataclass(slots=True, frozen=True)
class PendingTx:
    """A transaction recorded as sent whose outcome is not known yet."""

    order_id: str
    signature: str
    raw: bytes
    last_valid_block_height: int


class ReconcileRpc(Protocol):
    """The RPC calls :meth:`Journal.reconcile` uses."""

    async def get_signature_statuses(
        self, signatures: Sequence[str], *, search_transaction_history: bool = False
    ) -> list[dict[str, Any] | None]: ...

    async def get_transaction(self, signature: str) -> dict[str, Any] | None: ...

    async def get_block_height(self) -> int: ...


def _hops_json(opp: Opportunity) -> str:
    return json.dumps(
        [
            {
                "pool": str(h.pool), "dex": h.dex, "a_to_b": h.a_to_b,
                "mint_in": str(h.mint_in), "mint_out": str(h.mint_out),
                "amount_in": str(h.amount_in), "amount_out": str(h.amount_out),
            }
            for h in opp.hops
        ],
        separators=(",", ":"),
    )


class Journal:
    """SQLite journal at ``path`` (created with its folder if missing). Not thread-safe: use it
    from the event loop's thread. Every ``record_*`` commits before returning."""

    def __init__(self, path: str | os.PathLike[str], clock: Clock | None = None) -> None:
        self._clock: Clock = clock or SystemClock()
        dirname = os.path.dirname(os.fspath(path))
        if dirname:
            os.makedirs(dirname, exist_ok=True)
        self.path = os.fspath(path)
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)

    def journal_mode(self) -> str:
        """The SQLite journal mode in effect (``"wal"``)."""
        return str(self._db.execute("PRAGMA journal_mode").fetchone()[0])

    def close(self) -> None:
        """Checkpoint and close the database."""
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ writes

    def record_opportunity(self, opp: Opportunity) -> None:
        """Record a detected opportunity (idempotent on ``opp.id``)."""
        self._db.execute(
            "INSERT OR IGNORE INTO opportunities VALUES (?,?,?,?,?,?,?,?)",
            (opp.id, str(opp.start_mint), str(opp.amount_in), str(opp.amount_out), opp.slot,
             opp.ts_recv_ns, opp.ts_detect_ns, _hops_json(opp)),
        )

    def record_verdict(self, verdict: Verdict) -> None:
        """Record the risk engine's decision on an opportunity."""
        self._db.execute(
            "INSERT INTO verdicts (opportunity_id, approved, reason) VALUES (?,?,?)",
            (verdict.opportunity_id, int(verdict.approved), verdict.reason),
        )

    def record_order(self, order: Order) -> None:
        """Record an order (and its opportunity) before anything is built or sent."""
        self.record_opportunity(order.opportunity)
        self._db.execute(
            "INSERT OR IGNORE INTO orders (id, opportunity_id, min_out, created_at) VALUES (?,?,?,?)",
            (order.id, order.opportunity.id, str(order.min_out), self._clock.wall_s()),
        )

    def record_sent(
        self, order_id: str, signature: str, raw: bytes, last_valid_block_height: int
    ) -> None:
        """Record a signed transaction BEFORE it is sent (status pending)."""
        self._db.execute(
            "INSERT INTO transactions (signature, order_id, raw, last_valid_block_height, sent_at) "
            "VALUES (?,?,?,?,?)",
            (
                signature,
                order_id,
                base64.b64encode(raw).decode("ascii"),
                last_valid_block_height,
                self._clock.wall_s(),
            ),
        )

    def record_outcome(
        self, outcome: TxOutcome, deltas: Mapping[str, int], fee_lamports: int | None
    ) -> None:
        """Record the final outcome of an order's transaction with its exact token deltas.

        ``deltas`` (mint base58 -> base units) are kept for confirmed transactions only.
        """
        err = outcome.error
        with self._db:  # one atomic transaction: status, fee and deltas land together
            self._db.execute("BEGIN")
            self._db.execute(
                "UPDATE orders SET status=?, error=?, resolved_at=? WHERE id=?",
                (outcome.status.value, err, self._clock.wall_s(), outcome.order_id),
            )
            if outcome.signature is not None:
                self._db.execute(
                    "UPDATE transactions SET status=?, slot=?, err=?, fee=? WHERE signature=?",
                    (outcome.status.value, outcome.slot, err, fee_lamports, outcome.signature),
                )
                if outcome.status is TxStatus.CONFIRMED:
                    self._db.executemany(
                        "INSERT OR REPLACE INTO token_deltas VALUES (?,?,?)",
                        [(outcome.signature, m, str(d)) for m, d in deltas.items()],
                    )

    # ------------------------------------------------------------ reads

    def pending(self) -> list[PendingTx]:
        """Transactions recorded as sent with no final status (oldest first)."""
        rows = self._db.execute(
            "SELECT order_id, signature, raw, last_valid_block_height FROM transactions "
            "WHERE status=? ORDER BY rowid",
            (PENDING,),
        ).fetchall()
        return [PendingTx(o, s, base64.b64decode(r), h) for o, s, r, h in rows]

    def transaction(self, signature: str) -> dict[str, Any] | None:
        """One transaction row as a dict (``raw`` decoded to bytes), or None."""
        cur = self._db.execute("SELECT * FROM transactions WHERE signature=?", (signature,))
        row = cur.fetchone()
        if row is None:
            return None
        out = dict(zip([d[0] for d in cur.description], row, strict=True))
        out["raw"] = base64.b64decode(out["raw"])
        return out

    def order_status(self, order_id: str) -> str | None:
        """The recorded final status of an order (a :class:`TxStatus` value), or None."""
        row = self._db.execute("SELECT status FROM orders WHERE id=?", (order_id,)).fetchone()
        return None if row is None else row[0]

    def deltas(self, signature: str) -> dict[str, int]:
        """The recorded token deltas of one confirmed transaction."""
        rows = self._db.execute(
            "SELECT mint, delta FROM token_deltas WHERE signature=?", (signature,)
        )
        return {m: int(d) for m, d in rows}

    def pnl(self) -> dict[str, int]:
        """Exact realized token P&L: the sum of confirmed deltas by mint (base units)."""
        out: dict[str, int] = {}
        for mint, delta in self._db.execute("SELECT mint, delta FROM token_deltas"):
            out[mint] = out.get(mint, 0) + int(delta)
        return out

    def fees_paid(self) -> int:
        """Total transaction fees in lamports over landed (confirmed or failed) transactions."""
        row = self._db.execute("SELECT COALESCE(SUM(fee), 0) FROM transactions").fetchone()
        return int(row[0])

    def counts(self) -> dict[str, int]:
        """Opportunities, verdicts (approved/rejected), orders, pending and per-status counts."""
        q = self._db.execute
        out = {
            "opportunities": q("SELECT COUNT(*) FROM opportunities").fetchone()[0],
            "approved": q("SELECT COUNT(*) FROM verdicts WHERE approved=1").fetchone()[0],
            "rejected": q("SELECT COUNT(*) FROM verdicts WHERE approved=0").fetchone()[0],
            "orders": q("SELECT COUNT(*) FROM orders").fetchone()[0],
            "sent": q("SELECT COUNT(*) FROM transactions").fetchone()[0],
            PENDING: q(
                "SELECT COUNT(*) FROM transactions WHERE status=?", (PENDING,)
            ).fetchone()[0],
        }
        for status in TxStatus:
            out[status.value] = q(
                "SELECT COUNT(*) FROM orders WHERE status=?", (status.value,)
            ).fetchone()[0]
        return out

    # ------------------------------------------------------------ restart

    async def reconcile(self, rpc: ReconcileRpc, owner: Pubkey | str) -> list[TxOutcome]:
        """Resolve every pending transaction from the cluster; never sends anything.

        Per signature: a status or a ``getTransaction`` record decides CONFIRMED/FAILED (with
        exact deltas and fee); with neither and the block height past the transaction's
        ``last_valid_block_height`` it is EXPIRED; otherwise it stays pending (it may still land).
        Returns the outcomes recorded. RPC errors propagate (call again later).
        """
        pending = self.pending()
        if not pending:
            return []
        statuses = await rpc.get_signature_statuses(
            [p.signature for p in pending], search_transaction_history=True
        )
        height = await rpc.get_block_height()
        resolved: list[TxOutcome] = []
        for p, status in zip(pending, statuses, strict=True):
            decided = status_outcome(status, "confirmed")
            tx = await rpc.get_transaction(p.signature)
            if tx is not None:
                fx = tx_effects(tx, owner)
                st = TxStatus.CONFIRMED if fx.err is None else TxStatus.FAILED
                outcome = TxOutcome(p.order_id, p.signature, st, fx.slot, err_text(fx.err))
                self.record_outcome(outcome, fx.deltas, fx.fee)
            elif decided is not None and decided.status is TxStatus.FAILED:
                outcome = TxOutcome(
                    p.order_id, p.signature, TxStatus.FAILED, decided.slot, err_text(decided.err)
                )
                self.record_outcome(outcome, {}, None)
            elif status is None and height > p.last_valid_block_height:
                outcome = TxOutcome(p.order_id, p.signature, TxStatus.EXPIRED)
                self.record_outcome(outcome, {}, None)
            else:
                continue  # still in flight (or confirmed but not yet readable): next time
            resolved.append(outcome)
        return resolved


__all__ = ["PENDING", "Journal", "PendingTx", "ReconcileRpc"]
