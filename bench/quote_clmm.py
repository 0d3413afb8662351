"""Benchmark (not a test): cost of one exact Orca Whirlpool quote, in microseconds per call, for
swaps crossing 0, 1 and 10 initialized ticks, next to @orca-so/whirlpools-core's
``swapQuoteByInputToken`` on the same pool state, measured in the same run on the same machine.

    .venv/bin/python bench/quote_clmm.py [--calls 20000] [--json]

The pool comes from the sim factory (tick spacing 64, price 1, one wide position plus one narrow
position per initialized tick below the price); for each target the amount is the smallest power
of two step that makes the swap (a->b) cross exactly that many initialized ticks. Python times
``orca_whirlpool.quote(state, aux, amount, True)`` on account bytes (tick arrays decoded once and
cached by content, as in the engine between updates); node times the SDK call with prebuilt facades
(its JS <-> WASM marshalling included, which is how the SDK is called). Both answers are checked equal.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from solders.pubkey import Pubkey

from solarb.dex import orca_whirlpool as ow
from solarb.dex import orca_whirlpool_layout as wl
from solarb.sim.programs.orca_whirlpool import create_pool

ORACLE = Path(__file__).resolve().parents[1] / "tests" / "oracle"
TARGETS = (0, 1, 10)
TS = 64


def _pool() -> tuple[wl.Whirlpool, dict[Pubkey, bytes]]:
    positions = [(-64 * 80, 64 * 80, 10**13)]
    positions += [(-64 * (i + 1), 64 * 40, 10**11) for i in range(30)]  # initialized ticks below the price
    mint_a, mint_b = Pubkey.from_bytes(bytes([3]) * 32), Pubkey.from_bytes(bytes([200]) * 32)
    address, accounts = create_pool(mint_a=mint_a, mint_b=mint_b, tick_spacing=TS, fee_rate=3000,
                                    sqrt_price_x64=1 << 64, positions=positions)  # fmt: skip
    state = ow.decode_pool(address, accounts[address].data)
    aux = {k: accounts[k].data if k in accounts else b"" for k in ow.aux_accounts(state)}
    return state, aux


def _amount_for(state: wl.Whirlpool, aux: dict[Pubkey, bytes], crossings: int) -> int:
    """Smallest amount (on a fine grid) whose a->b swap crosses exactly ``crossings`` ticks."""
    amount = 1000
    while len(ow.quote_detail(state, aux, amount, True, detail=True).swap.crossed) < crossings:
        amount = amount * 9 // 8
    if len(ow.quote_detail(state, aux, amount, True, detail=True).swap.crossed) != crossings:
        raise SystemExit(f"no amount crosses exactly {crossings} ticks")
    return amount


def _case(state: wl.Whirlpool, aux: dict[Pubkey, bytes], amount: int, calls: int) -> dict[str, Any]:
    arrays = []
    for start in wl.swap_start_indexes(state.tick_current_index, state.tick_spacing, True):
        data = aux[wl.tick_array_address(state.address, start)]
        ticks = wl.decode_tick_array(data).ticks if data else {}
        arrays.append({"start": start, "ticks": [[o, str(t.liquidity_net), str(t.liquidity_gross)] for o, t in ticks.items()]})
    return {
        "whirlpool": {"fee_tier_index": state.fee_tier_index, "tick_spacing": state.tick_spacing,
                      "fee_rate": state.fee_rate, "protocol_fee_rate": state.protocol_fee_rate,
                      "liquidity": str(state.liquidity), "sqrt_price": str(state.sqrt_price),
                      "tick_current_index": state.tick_current_index},
        "oracle": None, "tick_arrays": arrays, "amount": str(amount), "a_to_b": True, "timestamp": "0",
        "transfer_fee_a": None, "transfer_fee_b": None, "n": max(200, calls // 10),
    }  # fmt: skip


def _time_python(state: wl.Whirlpool, aux: dict[Pubkey, bytes], amount: int, calls: int) -> float:
    quote = ow.quote
    for _ in range(200):
        quote(state, aux, amount, True)
    best = float("inf")
    for _ in range(3):  # best of three batches
        t0 = time.perf_counter()
        for _ in range(calls):
            quote(state, aux, amount, True)
        best = min(best, (time.perf_counter() - t0) / calls * 1e6)
    return best


def main() -> None:
    """Run the comparison and print a table (or JSON)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=20000,
                    help="Python quotes per timed batch (the SDK runs a tenth, >= 200)")  # fmt: skip
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = ap.parse_args()
    state, aux = _pool()
    rows = []
    cases = []
    for n in TARGETS:
        amount = _amount_for(state, aux, n)
        q = ow.quote(state, aux, amount, True)
        rows.append({"crossings": n, "amount_in": amount, "amount_out": q.amount_out,
                     "python_us": _time_python(state, aux, amount, args.calls)})  # fmt: skip
        cases.append(_case(state, aux, amount, args.calls))
    if shutil.which("node") and (ORACLE / "node_modules" / "@orca-so" / "whirlpools-core").is_dir():
        proc = subprocess.run(["node", str(ORACLE / "orca.mjs")], input=json.dumps({"quotes": cases, "bench": cases}).encode(),
                              capture_output=True, cwd=ORACLE, timeout=600, check=True)  # fmt: skip
        out = json.loads(proc.stdout)
        for row, sdk, us in zip(rows, out["quotes"], out["bench"], strict=True):
            if sdk.get("amount_out") != str(row["amount_out"]):
                raise SystemExit(f"SDK disagrees: {sdk} vs {row}")
            row["sdk_us"] = us
    else:
        print("node or tests/oracle/node_modules missing: SDK column skipped", file=sys.stderr)
    if args.json:
        print(json.dumps(rows))
        return
    print(f"{'ticks crossed':>13} {'amount_in':>16} {'solarb us/call':>15} {'whirlpools-core us/call':>24}")
    for r in rows:
        sdk = f"{r['sdk_us']:.2f}" if "sdk_us" in r else "-"
        print(f"{r['crossings']:>13} {r['amount_in']:>16} {r['python_us']:>15.2f} {sdk:>24}")


if __name__ == "__main__":
    main()
