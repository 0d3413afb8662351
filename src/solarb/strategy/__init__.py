"""Strategy: cycle enumeration, incremental re-evaluation and exact integer sizing (pure)."""

from solarb.strategy.cycles import (
    DEFAULT_MAX_SIZED,
    Cycle,
    CycleFinder,
    Evaluation,
    Leg,
    cycle_rate,
    enumerate_cycles,
    evaluate_cycle,
    size_cycle,
)
from solarb.strategy.sizing import Sized, maximize_profit, maximize_profit_model

__all__ = [
    "DEFAULT_MAX_SIZED",
    "Cycle",
    "CycleFinder",
    "Evaluation",
    "Leg",
    "Sized",
    "cycle_rate",
    "enumerate_cycles",
    "evaluate_cycle",
    "maximize_profit",
    "maximize_profit_model",
    "size_cycle",
]
