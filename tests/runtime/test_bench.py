"""``solarb bench`` on a small workload: it runs end to end through the real hot path and its
figures are internally consistent (not a timed test: no speed is asserted)."""

from __future__ import annotations

import orjson
import pytest

from solarb.cli import main
from solarb.runtime.bench import BenchConfig, run_bench


@pytest.fixture(scope="module")
def small() -> dict:
    return run_bench(BenchConfig(pools=20, updates=200, seed=3, inject_every=10, idle_seconds=0.5))


def test_counts_add_up(small: dict) -> None:
    assert small["pools"] == 20
    assert small["pools_by_dex"] == {"raydium_amm_v4": 4, "raydium_cpmm": 4, "orca_whirlpool": 4,
                                     "raydium_clmm": 4, "meteora_dlmm": 4}
    assert small["updates"] == 200 == small["feed"]["notifications"] == small["feed"]["delivered"]
    assert small["generator"]["account_frames"] >= 200
    assert small["feed"]["garbled"] == 0 and small["market"]["decode_errors"] == 0
    assert small["cycles"] > 0
    assert 0 < small["pool_changes"] <= small["updates"] * 2
    assert small["decisions"] == small["approved"] + small["rejected"]
    assert small["built"] + small["build_errors"] == small["approved"]
    assert small["sized"] <= small["evaluations"]


def test_injected_dislocations_are_found_and_signed(small: dict) -> None:
    assert small["generator"]["injected"] > 0
    assert small["opportunities"] > 0 and small["approved"] > 0 and small["built"] > 0
    assert small["build_errors"] == 0


def test_orders_are_sendable_transactions_through_the_nodes_lookup_tables(small: dict) -> None:
    # compiled against the tables the node creates (every pool route's static accounts): each
    # signed transaction fits a packet, as a real one must (without tables 3-hop CL routes do not)
    tables = small["lookup_tables"]
    assert tables["tables"] >= 1 and 0 < tables["addresses"] <= 256 * tables["tables"]
    assert 0 < small["tx_bytes"]["mean"] <= small["tx_bytes"]["max"] <= 1232


def test_figures_are_consistent(small: dict) -> None:
    lat = small["detect_latency_us"]
    assert 0 < lat["p50"] <= lat["p99"] <= lat["max"]
    assert 0 < small["build_sign_us"]["p50"] <= small["build_sign_us"]["p99"]
    assert small["updates_per_s"] > 0 and small["cpu_us_per_update"] > 0 and small["rss_mb"] > 0
    # throughput and latency describe the same replay: 1 / rate is at least the fastest update
    assert 1e6 / small["updates_per_s"] >= lat["p50"] * 0.1


def test_idle_engine_does_not_busy_poll(small: dict) -> None:
    assert 0 <= small["idle_cpu_pct"] < 1.0


def test_gc_policy_runs_as_in_the_node(small: dict) -> None:
    gc_figures = small["gc"]
    assert gc_figures["automatic"] == 0  # no collection inside an update
    assert gc_figures["deep"] == 0 and gc_figures["forced"] == 0  # a short replay: idle, young
    after = gc_figures["after_replay"]
    assert after["deep_ms"] > 0 and after["unfrozen"] > 0
    # nothing the replay froze died in a reference cycle (what makes re-freezing safe)
    assert after["deep_collected"] == 0


def test_latency_split_covers_every_update(small: dict) -> None:
    split = small["detect_filtered_only_us"]["updates"] + small["detect_with_sizing_us"]["updates"]
    assert split == small["updates"]
    assert small["mean_frame_bytes"] > 100  # base64 account data, not empty frames


def test_no_injection_no_dislocation_noise_only() -> None:
    quiet = run_bench(BenchConfig(pools=10, updates=100, seed=5, inject_every=0, idle_seconds=0))
    assert quiet["generator"]["injected"] == 0
    assert quiet["updates"] == 100


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--json", "--pools", "10", "--updates", "50", "--seed", "1",
                 "--idle-seconds", "0"]) == 0
    out = orjson.loads(capsys.readouterr().out)
    for key in ("updates_per_s", "detect_latency_us", "build_sign_us", "rss_mb",
                "cpu_us_per_update", "pools", "cycles", "opportunities"):
        assert key in out
    assert out["pools"] == 10 and out["updates"] == 50


def test_cli_no_warm_skips_the_warm_up(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--json", "--pools", "10", "--updates", "50", "--seed", "1",
                 "--idle-seconds", "0", "--no-warm"]) == 0
    out = orjson.loads(capsys.readouterr().out)
    assert out["warm"] is None and out["warm_s"] is None and out["updates"] == 50


def test_cli_rejects_tiny_workload(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--pools", "3"]) == 2
    assert "pools" in capsys.readouterr().err


def test_warm_up_runs_before_the_replay_and_changes_no_decision(small: dict) -> None:
    warm = small["warm"]
    assert warm["groups"] == small["pools"] and warm["quoters"] > small["pools"]
    assert warm["rates"] > 0 and 0 < warm["finder_s"] <= warm["seconds"] == small["warm_s"]
    assert min(warm["rss_before_mb"], warm["rss_finder_mb"], warm["rss_after_mb"]) > 0
    cold = run_bench(BenchConfig(pools=20, updates=200, seed=3, inject_every=10, idle_seconds=0,
                                 warm=False))  # fmt: skip
    assert cold["warm"] is None and cold["warm_s"] is None
    keys = ("cycles", "pool_changes", "opportunities", "decisions", "approved", "rejected",
            "rejections", "built", "build_errors", "evaluations", "sized", "sizing")  # fmt: skip
    assert {k: cold[k] for k in keys} == {k: small[k] for k in keys}


@pytest.mark.parametrize("argv", [
    ["--pools", "100001"],  # a workload that would not fit in memory: refused before generating
    ["--updates", "10000001"],
])
def test_cli_rejects_oversized_workload(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(_cfg: BenchConfig) -> dict:
        raise AssertionError("an oversized bench must be refused before it runs")

    monkeypatch.setattr("solarb.runtime.bench.run_bench", never)
    assert main(["bench", *argv]) == 2
    assert "bench needs --pools in 8..100,000 and --updates in 1..10,000,000" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "3601", "soon"])
def test_cli_rejects_bad_idle_seconds(
    value: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(_cfg: BenchConfig) -> dict:
        raise AssertionError("a bad --idle-seconds must be refused before the bench runs")

    monkeypatch.setattr("solarb.runtime.bench.run_bench", never)
    with pytest.raises(SystemExit) as info:
        main(["bench", "--pools", "8", "--updates", "1", "--idle-seconds", value])
    assert info.value.code == 2
    assert "--idle-seconds" in capsys.readouterr().err
