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
