"""A quote fault (a quote above u64: bad pool state or an adapter bug) in one update's cycles does
not stop the pipeline: ``on_update`` returns, nothing is decided from the faulty cycles, the next
healthy update is decided, and the status the node reports shows the fault count."""

from __future__ import annotations

import io

import pytest
from solders.pubkey import Pubkey

from solarb.risk.engine import RiskEngine, RiskLimits
from solarb.runtime.clock import ManualClock
from solarb.runtime.pipeline import Pipeline
from solarb.runtime.status import RunStats, StatusLine, format_summary
from solarb.strategy import CycleFinder
from solarb.strategy import cycles as cy
from tests.strategy.test_cycles_overflow import CAP, P1, P2, P3, S, three_pool_market


class _AllFresh:
    """Every pool known current up to the cluster's slot."""

    cluster_slot = 10

    def pool_slot(self, pool: Pubkey) -> int:
        """The cluster's slot."""
        return self.cluster_slot


def _pipeline() -> tuple[Pipeline, set[Pubkey]]:
    market, faulty = three_pool_market()
    finder = CycleFinder(market, start_mints=[S], min_profit={S: 1}, max_amount_in={S: CAP})
    finder.rebuild()
    risk = RiskEngine(RiskLimits(max_notional={S: CAP}, min_profit={S: 1}, max_in_flight=64))
    clock = ManualClock(start_ns=5_000)
    return Pipeline(market, finder, risk, 1, clock, RunStats(), _AllFresh()), faulty


@pytest.mark.parametrize("kernel", [True, False], ids=["kernel", "python"])
def test_an_update_through_a_faulty_pool_returns_and_the_next_is_decided(
    kernel: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not kernel:
        monkeypatch.setattr(cy, "_SIZING", None)
    elif cy._SIZING is None:
        pytest.skip("sizing kernel disabled (SOLARB_NATIVE=0)")
    pipeline, faulty = _pipeline()
    stats = pipeline.stats
    faulty.update((P1.pool, P3.pool))  # both cycles through P2 answer above u64
    pipeline.on_update(P2.vault_update(False, 2_030_000_000, slot=2))
    assert stats.updates == stats.pool_changes == 1
    assert stats.opportunities == stats.orders == stats.rejected == 0
    assert pipeline.decisions.empty() and pipeline.orders.empty()
    assert stats.latency_samples == 1  # the update was decided (nothing to trade)
    assert stats.quote_faults == pipeline.finder.quote_faults == 2

    faulty.clear()  # the next update, healthy: decided and ordered
    pipeline.on_update(P2.vault_update(False, 2_040_000_000, slot=3))
    opp, verdict = pipeline.decisions.get_nowait()
    assert verdict.approved and stats.orders == 1 and opp.profit > 0
    assert opp.hops[0].pool == P2.pool and opp.slot == 3
    assert pipeline.orders.get_nowait().opportunity is opp
    assert stats.quote_faults == 2 and stats.latency_samples == 2


def test_the_status_shows_the_finders_fault_count_and_last_fault() -> None:
    pipeline, faulty = _pipeline()
    stats = pipeline.stats
    assert RunStats().quote_faults == 0 and RunStats().faults() == {
        "quote_faults": 0, "last_quote_fault": None,
    }  # fmt: skip
    out = io.StringIO()
    line = StatusLine(out, {})
    line.show(stats, 1.0, 1.0, {})
    assert "quote faults" not in out.getvalue()
    faulty.add(P1.pool)
    pipeline.on_update(P2.vault_update(False, 2_030_000_000, slot=7))
    for _ in range(5):  # not a tty: one line in five is written
        line.show(stats, 2.0, 1.0, {})
    assert out.getvalue().splitlines()[-1].endswith("| quote faults 1")
    faults = stats.faults()
    assert faults == {
        "quote_faults": 1,
        "last_quote_fault": {"slot": 7, "pools": [str(P2.pool), str(P1.pool)],
                             "message": "Quote.amount_out above 2^64 - 1"},
    }  # fmt: skip
    summary = {
        "duration_s": 1.0, "updates": 1, "opportunities": 1, "orders": 1, "confirmed": 0,
        "failed": 0, "detect_latency_us": {"p50": 1.0, "p99": 2.0}, "start_balances": {},
        "end_balances": {}, "pnl": {},
    }  # fmt: skip
    assert "quote faults" not in format_summary(summary)
    text = format_summary(summary | faults)
    assert (f"quote faults: 1 cycles skipped (a quote above 2^64 - 1); last at slot 7 through "
            f"{P2.pool}, {P1.pool}: Quote.amount_out above 2^64 - 1") in text  # fmt: skip
