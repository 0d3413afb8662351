"""@solana/web3.js, the most used Solana client, works unchanged against the local cluster."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import orjson
import pytest

from solarb.sim.cluster import LocalCluster

ORACLE = Path(__file__).resolve().parents[1] / "oracle"
SCRIPT = ORACLE / "web3_client.mjs"


def _require_node() -> None:
    if shutil.which("node") is None or not (ORACLE / "node_modules" / "@solana" / "web3.js").exists():
        if os.environ.get("CI") == "true":
            pytest.fail("node or tests/oracle/node_modules missing on CI (make oracle installs them)")
        pytest.skip("node or tests/oracle/node_modules missing (run `make oracle`)")


async def test_web3js_airdrop_transfer_and_subscriptions() -> None:
    _require_node()
    async with LocalCluster(rpc_port=0, slot_ms=100, market=False) as cluster:
        proc = await asyncio.create_subprocess_exec(
            "node", str(SCRIPT), cluster.rpc_url, cluster.ws_url,
            cwd=ORACLE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.returncode == 0, err.decode()[-2000:]
        result = orjson.loads(out.decode().strip().splitlines()[-1])
    assert result["balance_after_airdrop"] == 2_000_000_000
    assert result["dest_balance"] == 12_345_678
    assert result["fee"] == 5000
    assert result["payer_balance"] == 2_000_000_000 - 12_345_678 - 5000
    assert result["notified"] is not None and result["notified"]["lamports"] == 12_345_678
    assert "solana-core" in result["version"]
