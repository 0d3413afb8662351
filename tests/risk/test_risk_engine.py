"""RiskEngine and its rules: limits, fail-closed defaults, kill switch."""

from __future__ import annotations

import dataclasses

import pytest

from solarb.errors import ConfigError
from solarb.events import Hop, Opportunity, Verdict
from solarb.risk import RiskEngine, RiskLimits
from solarb.risk.rules import RULES, in_flight, max_notional, min_profit, well_formed
from tests.support.cp_adapter import key

SOL, USDC, BONK = key("mint/SOL"), key("mint/USDC"), key("mint/BONK")
P1, P2 = key("pool/1"), key("pool/2")


def _opp(amount_in: int = 1_000_000, mid: int = 150_000_000, out: int = 1_010_000) -> Opportunity:
    hops = (
        Hop(P1, "cp_test", True, SOL, USDC, amount_in, mid),
        Hop(P2, "cp_test", False, USDC, SOL, mid, out),
    )
    return Opportunity("7-1", SOL, hops, amount_in, out, slot=7, ts_recv_ns=1, ts_detect_ns=2)


LIMITS = RiskLimits(max_notional={SOL: 5_000_000}, min_profit={SOL: 5_000}, max_in_flight=1)


def test_good_opportunity_is_approved() -> None:
    engine = RiskEngine(LIMITS)
    v = engine.evaluate(_opp(), in_flight=0)
    assert v.approved and v.opportunity_id == "7-1" and v.reason == ""
    assert engine.approved == 1


@pytest.mark.parametrize(
    "opp,in_flight_now,rule",
    [
        (_opp(amount_in=6_000_000, out=6_100_000), 0, "max_notional"),
        (_opp(out=1_004_999), 0, "min_profit"),
        (_opp(), 1, "max_in_flight"),
        (_opp(out=1_000_000), 0, "well_formed"),
    ],
)
def test_each_rule_refuses_with_a_reason(opp: Opportunity, in_flight_now: int, rule: str) -> None:
    engine = RiskEngine(LIMITS)
    v = engine.evaluate(opp, in_flight=in_flight_now)
    assert not v.approved
    assert v.reason.startswith(rule + ":"), v.reason
    assert engine.rejections[rule] == 1 and engine.approved == 0


def test_limits_at_the_boundary_pass() -> None:
    engine = RiskEngine(LIMITS)
    assert engine.evaluate(_opp(amount_in=5_000_000, out=5_005_000), in_flight=0).approved


def test_unconfigured_mint_fails_closed() -> None:
    opp = dataclasses.replace(_opp(), start_mint=BONK)
    limits = RiskLimits(max_notional={SOL: 10**9}, min_profit={SOL: 1})
    assert max_notional.evaluate(opp, limits, in_flight=0) is not None
    assert min_profit.evaluate(opp, limits, in_flight=0) is not None
    v = RiskEngine(limits).evaluate(opp, in_flight=0)
    assert not v.approved  # well_formed refuses first: hops do not start in BONK
    assert "start_mint" in v.reason


def _wf(opp: Opportunity) -> Verdict | None:
    return well_formed.evaluate(opp, LIMITS, in_flight=0)


def test_well_formed_checks_the_chain() -> None:
    good = _opp()
    assert well_formed.evaluate(good, LIMITS, in_flight=0) is None
    broken = dataclasses.replace(good.hops[1], amount_in=good.hops[0].amount_out + 1)
    v = _wf(dataclasses.replace(good, hops=(good.hops[0], broken)))
    assert v is not None and "spends" in v.reason
    wrong_mint = dataclasses.replace(good.hops[1], mint_in=BONK)
    v = _wf(dataclasses.replace(good, hops=(good.hops[0], wrong_mint)))
    assert v is not None and "takes" in v.reason
    v = _wf(dataclasses.replace(good, amount_out=good.amount_out + 1))
    assert v is not None and "totals" in v.reason
    v = _wf(dataclasses.replace(good, hops=()))
    assert v is not None and "no hops" in v.reason


def test_in_flight_limit_zero_blocks_everything() -> None:
    limits = dataclasses.replace(LIMITS, max_in_flight=0)
    assert in_flight.evaluate(_opp(), limits, in_flight=0) is not None


def test_kill_switch_refuses_everything_until_resumed() -> None:
    engine = RiskEngine(LIMITS)
    assert not engine.halted and engine.halt_reason is None
    engine.halt("drawdown breaker")
    engine.halt("second reason is ignored")
    assert engine.halted and engine.halt_reason == "drawdown breaker"
    v = engine.evaluate(_opp(), in_flight=0)
    assert not v.approved and v.reason == "halted: drawdown breaker"
    assert engine.rejections["halted"] == 1
    engine.resume()
    assert engine.evaluate(_opp(), in_flight=0).approved


def test_limits_are_frozen_and_validated() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        LIMITS.max_in_flight = 3  # type: ignore[misc]
    with pytest.raises(ConfigError):
        RiskLimits(max_notional={SOL: -1})
    with pytest.raises(ConfigError):
        RiskLimits(min_profit={SOL: 1.5})  # type: ignore[dict-item]
    with pytest.raises(ConfigError):
        RiskLimits(max_in_flight=-1)


def test_rule_order_is_stable() -> None:
    assert [r.NAME for r in RULES] == ["well_formed", "max_in_flight", "max_notional", "min_profit"]


def test_rules_assigned_later_are_the_ones_run() -> None:
    engine = RiskEngine(LIMITS)
    bad = _opp(out=1_000_000)  # not profitable: well_formed refuses it
    assert engine.evaluate(bad, in_flight=0).reason.startswith("well_formed:")
    engine.rules = (in_flight,)
    assert engine.rules == (in_flight,)
    v = engine.evaluate(bad, in_flight=0)
    assert v == Verdict(bad.id, True, "") and type(v) is Verdict
    assert engine.evaluate(bad, in_flight=1).reason.startswith("max_in_flight:")
    assert engine.rejections == {"well_formed": 1, "max_in_flight": 1}
