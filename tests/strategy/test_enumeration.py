"""Cycle enumeration on hub-heavy graphs, against a brute force over all leg triples."""

from __future__ import annotations

import itertools
import random
import types

from solders.pubkey import Pubkey

from solarb.market.graph import TokenGraph
from solarb.strategy.cycles import enumerate_cycles


def _hub_graph(seed: int, tokens: int, pools: int) -> tuple[TokenGraph, list[Pubkey]]:
    rng = random.Random(seed)
    mints = [Pubkey.new_unique() for _ in range(tokens)]
    graph = TokenGraph()
    for _ in range(pools):
        a = rng.choice(mints[:3]) if rng.random() < 0.7 else rng.choice(mints)  # hubs, as on mainnet
        b = rng.choice(mints)
        if a != b:
            graph.add_pool(Pubkey.new_unique(), a, b)
    return graph, mints


def _brute_force(graph: TokenGraph, start: Pubkey) -> set[tuple[tuple[Pubkey, bool], ...]]:
    directed = [(e, m) for m in graph.mints() for e in graph.edges(m)]
    found: set[tuple[tuple[Pubkey, bool], ...]] = set()
    for n in (2, 3):
        for path in itertools.product(directed, repeat=n):
            edges = [e for e, _ in path]
            mints_in = [m for _, m in path]
            outs = [graph.mint_out(e) for e in edges]
            if mints_in[0] != start or outs[-1] != start or len({e.pool for e in edges}) < n:
                continue
            if any(outs[i] != mints_in[i + 1] for i in range(n - 1)):
                continue
            inner = outs[:-1]
            if start in inner or len(set(inner)) < len(inner):
                continue
            found.add(tuple((e.pool, e.a_to_b) for e in edges))
    return found


def test_enumeration_equals_brute_force_on_hub_graphs() -> None:
    for seed in range(3):
        graph, mints = _hub_graph(seed, tokens=8, pools=24)
        market = types.SimpleNamespace(graph=graph)
        for start in mints[:2]:
            got = [tuple((leg.pool, leg.a_to_b) for leg in c.legs)
                   for c in enumerate_cycles(market, [start], 3)]  # type: ignore[arg-type]
            assert len(got) == len(set(got))
            assert set(got) == _brute_force(graph, start)
            for cycle in enumerate_cycles(market, [start], 3):  # type: ignore[arg-type]
                legs = cycle.legs
                assert legs[0].mint_in == legs[-1].mint_out == start
                assert all(a.mint_out == b.mint_in for a, b in zip(legs, legs[1:]))


def test_enumeration_scales_with_its_output_on_a_large_hub() -> None:
    # 20,000 pools around two hubs: the closing legs are found once per middle mint (the old scan
    # re-read the hub's whole edge list for every first and second leg: ~90 s here)
    graph, mints = _hub_graph(7, tokens=4000, pools=20_000)
    cycles = enumerate_cycles(types.SimpleNamespace(graph=graph), mints[:2], 3)  # type: ignore[arg-type]
    assert len(cycles) > 100_000
