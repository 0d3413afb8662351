"""Strategy: cycle enumeration, incremental re-evaluation and exact integer sizing (pure)."""

from solarb.strategy.cycles import (
    Cycle,
    CycleFinder,
    Evaluation,
    Leg,
    enumerate_cycles,
    evaluate_cycle,
)
from solarb.strategy.sizing import Sized, maximize_profit

__all__ = [
    "Cycle",
    "CycleFinder",
    "Evaluation",
    "Leg",
    "Sized",
    "enumerate_cycles",
    "evaluate_cycle",
    "maximize_profit",
]
