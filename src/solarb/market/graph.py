"""The token graph: which pools swap which mint into which.

A pool with mints (a, b) contributes two directed edges: ``a -> b`` (``a_to_b=True``) and
``b -> a`` (``a_to_b=False``). Pure data; :class:`~solarb.market.state.MarketState` keeps it
current.
"""

from __future__ import annotations

from typing import NamedTuple

from solders.pubkey import Pubkey


class Edge(NamedTuple):
    """One direction of one pool: swap out of the mint the edge is listed under."""

    pool: Pubkey
    a_to_b: bool


class TokenGraph:
    """``mint -> [Edge, ...]`` plus each pool's mint pair, so an edge's far end is one lookup."""

    __slots__ = ("_edges", "_pairs")

    def __init__(self) -> None:
        self._edges: dict[Pubkey, list[Edge]] = {}
        self._pairs: dict[Pubkey, tuple[Pubkey, Pubkey]] = {}

    def add_pool(self, pool: Pubkey, mint_a: Pubkey, mint_b: Pubkey) -> bool:
        """Register ``pool`` trading ``mint_a``/``mint_b``; return True if the graph changed."""
        old = self._pairs.get(pool)
        if old == (mint_a, mint_b):
            return False
        if old is not None:
            self.remove_pool(pool)
        self._pairs[pool] = (mint_a, mint_b)
        self._edges.setdefault(mint_a, []).append(Edge(pool, True))
        self._edges.setdefault(mint_b, []).append(Edge(pool, False))
        return True

    def remove_pool(self, pool: Pubkey) -> bool:
        """Drop both edges of ``pool``; return True if it was present."""
        pair = self._pairs.pop(pool, None)
        if pair is None:
            return False
        for mint in pair:
            edges = [e for e in self._edges.get(mint, ()) if e.pool != pool]
            if edges:
                self._edges[mint] = edges
            else:
                self._edges.pop(mint, None)
        return True

    def edges(self, mint: Pubkey) -> list[Edge]:
        """Edges leaving ``mint`` (empty if the mint is unknown). Do not mutate the result."""
        return self._edges.get(mint, [])

    def mint_out(self, edge: Edge) -> Pubkey:
        """The mint an edge delivers."""
        mint_a, mint_b = self._pairs[edge.pool]
        return mint_b if edge.a_to_b else mint_a

    def mint_in(self, edge: Edge) -> Pubkey:
        """The mint an edge consumes."""
        mint_a, mint_b = self._pairs[edge.pool]
        return mint_a if edge.a_to_b else mint_b

    def mints(self) -> list[Pubkey]:
        """Every mint with at least one pool."""
        return list(self._edges)

    def as_dict(self) -> dict[Pubkey, list[Edge]]:
        """A copy of ``mint -> edges``."""
        return {mint: list(edges) for mint, edges in self._edges.items()}

    def __len__(self) -> int:
        return len(self._pairs)
