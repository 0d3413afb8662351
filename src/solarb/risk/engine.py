"""The risk engine: runs the rules in order, first refusal wins; holds the kill switch.

Pure and synchronous: a refusal is a :class:`~solarb.events.Verdict` with a reason, never an
exception. Once halted, every verdict is a refusal ``"halted: <reason>"`` until :meth:`resume`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType

from solders.pubkey import Pubkey

from solarb.errors import ConfigError
from solarb.events import Opportunity, Verdict
from solarb.native.slots import frozen_maker
from solarb.risk.rules import RULES, stale_state
from solarb.risk.rules.stale_state import PoolFreshness, stale_reason

__all__ = ["RiskEngine", "RiskLimits"]

_verdict = frozen_maker(Verdict)  # Verdict(id, approved, reason) without type.__call__


@dataclass(slots=True, frozen=True)
class RiskLimits:
    """Limits in base units per start mint. A mint missing from a mapping is refused."""

    max_notional: Mapping[Pubkey, int] = field(default_factory=dict)
    min_profit: Mapping[Pubkey, int] = field(default_factory=dict)
    max_in_flight: int = 1
    max_slot_lag: int = 8  # stale_state: max slots a traded pool's state may trail the cluster

    def __post_init__(self) -> None:
        if self.max_slot_lag < 0:
            raise ConfigError(f"max_slot_lag must be >= 0, got {self.max_slot_lag}")
        if self.max_in_flight < 0:
            raise ConfigError(f"max_in_flight must be >= 0, got {self.max_in_flight}")
        for name, table in (("max_notional", self.max_notional), ("min_profit", self.min_profit)):
            for mint, value in table.items():
                if not isinstance(value, int) or value < 0:
                    raise ConfigError(f"{name}[{mint}] must be a non-negative int, got {value!r}")


class RiskEngine:
    """Approves or refuses opportunities. ``rejections`` counts refusals by rule name."""

    def __init__(self, limits: RiskLimits, rules: tuple[ModuleType, ...] = RULES) -> None:
        self.limits = limits
        self.rules = rules
        self._halt_reason: str | None = None
        self.approved = 0
        self.rejections: Counter[str] = Counter()

    @property
    def rules(self) -> tuple[ModuleType, ...]:
        """The rules run after the stale-state one, in order (first refusal wins)."""
        return self._rules

    @rules.setter
    def rules(self, rules: tuple[ModuleType, ...]) -> None:
        self._rules = tuple(rules)
        # (evaluate, NAME) per rule, looked up once: no module attribute reads per decision
        self._checks: tuple[tuple[Callable[..., Verdict | None], str], ...] = tuple(
            (rule.evaluate, rule.NAME) for rule in self._rules)

    @property
    def halted(self) -> bool:
        """True once the kill switch is thrown."""
        return self._halt_reason is not None

    @property
    def halt_reason(self) -> str | None:
        """Why the engine was halted (None while running)."""
        return self._halt_reason

    def halt(self, reason: str) -> None:
        """Throw the kill switch: refuse everything from now on. The first reason is kept."""
        if self._halt_reason is None:
            self._halt_reason = reason or "unspecified"

    def resume(self) -> None:
        """Release the kill switch (an operator action)."""
        self._halt_reason = None

    def evaluate(
        self, opp: Opportunity, *, in_flight: int, view: PoolFreshness | None = None
    ) -> Verdict:
        """The verdict on ``opp`` given ``in_flight`` unresolved orders; with a feed's ``view``,
        the :mod:`~solarb.risk.rules.stale_state` rule runs first."""
        if self._halt_reason is not None:
            self.rejections["halted"] += 1
            return _verdict(opp.id, False, f"halted: {self._halt_reason}")
        limits = self.limits
        if view is not None:  # stale_state.evaluate, inline (its verdict, its reason)
            why = stale_reason(opp, limits.max_slot_lag, view)
            if why is not None:
                self.rejections[stale_state.NAME] += 1
                return _verdict(opp.id, False, f"{stale_state.NAME}: {why}")
        for evaluate, name in self._checks:
            verdict = evaluate(opp, limits, in_flight=in_flight)
            if verdict is not None and not verdict.approved:
                self.rejections[name] += 1
                return verdict
        self.approved += 1
        return _verdict(opp.id, True, "")
