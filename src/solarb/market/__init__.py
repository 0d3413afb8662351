"""Market state: pool registry, auxiliary-account index and token graph (pure, synchronous)."""

from solarb.market.compact import SparseBytes, compact
from solarb.market.graph import Edge, TokenGraph
from solarb.market.state import MarketState, PoolEntry, PoolQuarantined

__all__ = ["Edge", "MarketState", "PoolEntry", "PoolQuarantined", "SparseBytes", "TokenGraph", "compact"]
