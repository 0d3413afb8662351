"""Risk: rules (one per module) and the engine that applies them and holds the kill switch."""

from solarb.risk.engine import RiskEngine, RiskLimits

__all__ = ["RiskEngine", "RiskLimits"]
