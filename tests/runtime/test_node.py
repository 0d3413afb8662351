"""Node wiring that needs no cluster: the embedded run's engine keypair."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from solarb.runtime.node import sim_keypair
from solarb.wallet.keystore import WalletError


def test_sim_keypair_is_created_then_reused(tmp_path: Path) -> None:
    path = tmp_path / "sim" / "engine-keypair.json"
    first = sim_keypair(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = sim_keypair(path)  # a second run in the same data dir must not fail
    assert second.pubkey() == first.pubkey()


def test_sim_keypair_rejects_a_damaged_file(tmp_path: Path) -> None:
    path = tmp_path / "engine-keypair.json"
    path.write_text("[1, 2, 3]")
    with pytest.raises(WalletError):
        sim_keypair(path)


def test_the_node_warms_once_loaded_before_the_freeze_and_the_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A short run of the real node on the embedded cluster: the warm-up runs once, after the
    market is loaded and before the GC policy's freeze and any update, over every pool; the
    freshness groups are laid out again once the feed's subscriptions are all up."""
    import asyncio

    from solarb.config import load_settings
    from solarb.runtime import node as node_module

    events: list[tuple[str, int]] = []
    real_warm = node_module.warm_up

    def warm_up(finder, freshness, builder):  # type: ignore[no-untyped-def]
        events.append(("warm", run.stats.updates))
        assert finder.market.pools and not finder._quoters
        return real_warm(finder, freshness, builder=builder)

    monkeypatch.setattr(node_module, "warm_up", warm_up)
    settings = load_settings(environ={}, overrides={"data_dir": str(tmp_path / "var")})
    run = node_module.Node(settings)
    real_start = run.gc.start

    def start() -> None:
        events.append(("gc.start", run.stats.updates))
        real_start()

    monkeypatch.setattr(run.gc, "start", start)
    summary = asyncio.run(run.run(duration_s=3.0, status=False))
    assert events == [("warm", 0), ("gc.start", 0)]
    warm = summary["warm"]
    assert warm["groups"] == summary["pools"] and warm["quoters"] >= summary["pools"]
    assert warm["rates"] > 0 and warm["seconds"] > 0
    assert warm["atas"] >= 2  # the payer's token accounts of the pools' mints, derived
    assert warm["relaid_s"] is not None  # laid out again once every account was subscribed
    assert summary["updates"] > 0  # the stream ran after it


def test_the_node_skips_the_warm_up_when_configured_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``trading.warm_up = false``: no warm-up and no re-layout task; the stream still runs and
    the summary says ``warm: null``."""
    import asyncio

    from solarb.config import load_settings
    from solarb.runtime import node as node_module

    def warm_up(finder, freshness):  # type: ignore[no-untyped-def]
        raise AssertionError("warm_up ran although trading.warm_up is false")

    monkeypatch.setattr(node_module, "warm_up", warm_up)
    settings = load_settings(
        environ={},
        overrides={"data_dir": str(tmp_path / "var"), "trading": {"warm_up": False}},
    )
    assert settings.trading.warm_up is False
    run = node_module.Node(settings)
    summary = asyncio.run(run.run(duration_s=2.0, status=False))
    assert summary["warm"] is None and run.warmed is None
    assert summary["updates"] > 0
