"""End to end: `solarb run` trades cycles through concentrated-liquidity pools (Orca Whirlpool,
Raydium CLMM, Meteora DLMM) on the embedded cluster and still reconciles with the chain."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

pytestmark = pytest.mark.slow
SOLARB = [sys.executable, "-m", "solarb.cli"]
CL_DEXES = {"orca_whirlpool", "raydium_clmm", "meteora_dlmm"}
# Seed 7 (as test_run.py): its market mixes CL and CP pools on SOL/USDC and the alt pairs, and
# noise opens CL/CP spreads early. Measured on a 2-core machine, 45 s runs: seed 7 confirmed 34
# trades, 23 of them through a Whirlpool, Raydium CLMM or DLMM pool (seeds 2 and 3: 7 and 14
# confirmed; seed 1 under a parallel test load: 0, the engine was CPU-bound). The assertions need
# one CL trade, which leaves room for a slower or busier CI machine (exact sizing over CL quotes
# is the engine's main CPU cost).
SEED = "7"


def test_run_trades_concentrated_pools_and_reconciles(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOLARB_")}
    proc = subprocess.run(
        [*SOLARB, "run", "--duration", "45", "--json", "--seed", SEED],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = orjson.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["confirmed"] >= 1, summary
    assert summary["reconciled"] is True, summary
    for mint, start in summary["start_balances"].items():
        assert summary["pnl"].get(mint, 0) == summary["end_balances"][mint] - start, mint
    through_cl = [t for t in summary["trades"] if CL_DEXES & set(t["dexes"])]
    assert through_cl, summary["trades_by_dex"]
    assert CL_DEXES & set(summary["trades_by_dex"])
    assert summary["pools"] >= 16
