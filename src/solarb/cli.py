"""The ``solarb`` command. The only module that talks to a person.

Every :class:`solarb.errors.SolarbError` that reaches here becomes one clear line on stderr and its
``exit_code`` (2 for bad input, 1 otherwise); Ctrl-C exits 130. No tracebacks for expected failures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from solarb.errors import SolarbError, UsageError

if TYPE_CHECKING:
    from solarb.config import Settings


# bench sizes beyond which a run would exhaust this class of machine's memory (~22 KB per pool in
# the engine, more in the generator) or take hours
BENCH_MAX_POOLS = 100_000
BENCH_MAX_UPDATES = 10_000_000
MAX_IDLE_SECONDS = 3600.0


def _settings(args: argparse.Namespace, overrides: dict[str, Any] | None = None) -> Settings:
    # imported here: pydantic (~8 MB) stays out of commands that need no config (bench, quote)
    from solarb.config import load_settings

    return load_settings(getattr(args, "config", None), overrides=overrides)


def cmd_config_check(args: argparse.Namespace) -> int:
    """Print the effective configuration, secrets redacted."""
    from solarb.config import redacted

    settings = _settings(args)
    print(orjson.dumps(redacted(settings), option=orjson.OPT_INDENT_2).decode())
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run the engine (on the embedded cluster unless endpoints are configured)."""
    from solarb.runtime.node import run_node

    overrides: dict[str, Any] = {}
    if args.seed is not None:
        overrides.setdefault("cluster", {})["seed"] = args.seed
    if args.faults is not None:
        overrides.setdefault("cluster", {})["faults"] = args.faults
    settings = _settings(args, overrides)
    summary = asyncio.run(
        run_node(settings, duration_s=args.duration, status=not args.json and not args.quiet)
    )
    if args.json:
        sys.stdout.write(orjson.dumps(summary).decode() + "\n")
    else:
        from solarb.runtime.status import format_summary

        sys.stdout.write(format_summary(summary) + "\n")
    return 0


def cmd_sim(args: argparse.Namespace) -> int:
    """Run the embedded local cluster alone until stopped."""
    from solarb.sim.cluster import LocalCluster, serve_forever

    def ready(cluster: LocalCluster) -> None:
        print(f"JSON RPC URL: {cluster.rpc_url}\nWebSocket URL: {cluster.ws_url}", flush=True)
        for name, url in cluster.rpc_endpoints[1:]:
            print(f"Fault endpoint {name}: {url}", flush=True)

    asyncio.run(
        serve_forever(
            on_ready=ready,
            host=args.host,
            rpc_port=args.rpc_port,
            seed=args.seed,
            slot_ms=args.slot_ms,
            market=not args.no_market,
            faults=args.faults,
        )
    )
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    """Ask a running engine (same data dir) to stop sending and exit."""
    from solarb.runtime.killswitch import request_stop

    settings = _settings(args)
    path = request_stop(settings.data_path, reason=args.reason)
    print(f"stop requested ({path}); a running engine stops sending within one second")
    return 0


def cmd_quote(args: argparse.Namespace) -> int:
    """Quote a swap on one pool from an accounts file, or a batch of cases."""
    from solarb.runtime.quoting import quote_batch, quote_single

    if args.cases:
        if args.accounts or args.pool or args.amount_in is not None or args.direction:
            raise UsageError("--cases cannot be combined with --accounts/--pool/--amount-in/--direction")
        result: Any = quote_batch(Path(args.cases))
    else:
        missing = [
            flag
            for flag, value in (
                ("--accounts", args.accounts),
                ("--pool", args.pool),
                ("--amount-in", args.amount_in),
                ("--direction", args.direction),
            )
            if value is None
        ]
        if missing:
            raise UsageError(f"missing {', '.join(missing)} (or give --cases FILE)")
        result = quote_single(Path(args.accounts), args.pool, args.amount_in, args.direction)
    print(orjson.dumps(result).decode())
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Replay a generated account-update stream through the hot path and print its figures."""
    from solarb.runtime.bench import BenchConfig, run_bench

    if not 8 <= args.pools <= BENCH_MAX_POOLS or not 1 <= args.updates <= BENCH_MAX_UPDATES:
        raise UsageError(f"bench needs --pools in 8..{BENCH_MAX_POOLS:,} and --updates in "
                         f"1..{BENCH_MAX_UPDATES:,}")
    result = run_bench(BenchConfig(pools=args.pools, updates=args.updates, seed=args.seed,
                                   idle_seconds=args.idle_seconds, warm=args.warm))
    if args.json:
        print(orjson.dumps(result).decode())
    else:
        print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    return 0


M_MMAP_THRESHOLD = -3  # glibc mallopt parameter
MMAP_THRESHOLD = 128 * 1024  # glibc's default starting value, fixed


def tune_allocator(environ: Mapping[str, str] | None = None) -> bool:
    """Fix glibc malloc's mmap threshold at 128 KiB (its default start) for this process.

    By default glibc raises the threshold to the size of any mmapped block freed (up to 32 MiB):
    after the first large transient buffer (an RPC reply or a batch of frames at load), later ones
    come from the brk heap, whose freed space stays resident. A fixed threshold keeps them mmapped
    and returned on free (peak RSS of ``solarb bench`` at 1,000 pools: ~4 MB less after load,
    ~1.5 MB at the end of 20,000 updates; allocations under 128 KiB are unaffected).
    True when set; False on other C libraries or when the environment already tunes malloc
    (``MALLOC_*_``, ``GLIBC_TUNABLES``)."""
    env = os.environ if environ is None else environ
    if any(k.startswith("MALLOC_") or k == "GLIBC_TUNABLES" for k in env):
        return False
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return False
    except (ValueError, OSError):  # no such name here: not glibc
        return False
    import ctypes  # here: only the engine commands pay for it (~0.3 MB)

    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    return mallopt is not None and mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 0")
    return value


def _seconds(text: str) -> float:
    """A duration in seconds: a finite number, 0 included."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= MAX_IDLE_SECONDS:
        raise argparse.ArgumentTypeError(f"{text!r} must be in 0..{MAX_IDLE_SECONDS:g}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
    return value


FAULT_PROFILES = ("none", "flaky-rpc", "chaos", "ws-drops")  # sim.faults + sim.ws_faults (not imported)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every ``solarb`` subcommand."""
    parser = argparse.ArgumentParser(prog="solarb", description="Solana DEX arbitrage engine")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the engine (embedded local cluster by default)")
    run.add_argument("--config", help="TOML config file")
    run.add_argument("--duration", type=_positive_float, help="seconds to run (default: until stopped)")
    run.add_argument("--seed", type=_non_negative_int, help="market seed for the embedded cluster")
    run.add_argument("--json", action="store_true", help="print the summary as one JSON line")
    run.add_argument("--quiet", action="store_true", help="no live status line")
    run.add_argument("--faults", choices=FAULT_PROFILES,
                     help="embedded cluster serves extra JSON-RPC endpoints with injected faults")
    run.set_defaults(func=cmd_run)

    sim = sub.add_parser("sim", help="run the embedded local cluster alone")
    sim.add_argument("--host", default="127.0.0.1", help="bind address (default loopback)")
    sim.add_argument("--rpc-port", type=_non_negative_int, default=8899, help="JSON-RPC port; PubSub is +1")
    sim.add_argument("--seed", type=_non_negative_int, default=0)
    sim.add_argument("--slot-ms", type=_non_negative_int, default=400)
    sim.add_argument("--no-market", action="store_true", help="no pools or market flow")
    sim.add_argument("--faults", choices=FAULT_PROFILES,
                     help="also serve JSON-RPC front ends with injected faults (URLs printed)")
    sim.set_defaults(func=cmd_sim)

    quote = sub.add_parser("quote", help="exact quote from account dumps")
    quote.add_argument("--accounts", help="JSON array of `solana account --output json` objects")
    quote.add_argument("--pool", help="pool address")
    quote.add_argument("--amount-in", type=_non_negative_int, help="input amount in base units")
    quote.add_argument("--direction", choices=("a-to-b", "b-to-a"))
    quote.add_argument("--cases", help="JSON array of {pool, direction, amount_in, accounts}")
    quote.set_defaults(func=cmd_quote)

    bench = sub.add_parser("bench", help="hot-path benchmark on a generated update stream")
    bench.add_argument("--pools", type=_non_negative_int, default=1_000, help="pools (all DEX types)")
    bench.add_argument("--updates", type=_non_negative_int, default=100_000, help="account updates")
    bench.add_argument("--seed", type=_non_negative_int, default=7)
    bench.add_argument("--idle-seconds", type=_seconds, default=2.0,
                       help="then measure the idle engine's CPU this long (0: skip)")
    bench.add_argument("--json", action="store_true", help="one JSON line")
    bench.add_argument("--no-warm", dest="warm", action="store_false",
                       help="skip the warm-up after load (first updates pay first-touch work)")
    bench.set_defaults(func=cmd_bench)

    config = sub.add_parser("config", help="configuration tools")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    check = config_sub.add_parser("check", help="validate and print the effective config (redacted)")
    check.add_argument("--config", help="TOML config file")
    check.set_defaults(func=cmd_config_check)

    stop = sub.add_parser("stop", help="kill switch: make a running engine stop sending and exit")
    stop.add_argument("--config", help="TOML config file (for the data directory)")
    stop.add_argument("--reason", default="manual stop", help="recorded in the journal")
    stop.set_defaults(func=cmd_stop)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``solarb`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in ("run", "bench"):
        tune_allocator()
    try:
        code = int(args.func(args))
    except SolarbError as e:
        print(f"solarb: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("solarb: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
