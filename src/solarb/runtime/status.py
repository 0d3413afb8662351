"""Run statistics, the live status line and the end-of-run summary text.

The finder's fault counters are read from it when a status is shown or a summary built, never
copied on the hot path (:attr:`RunStats.finder`, set by the Pipeline)."""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from solarb.strategy.cycles import CycleFinder

LATENCY_WINDOW = 1 << 16
"""Latency samples kept: the most recent 65,536 decisions (a ring of 8-byte ints, 512 KiB)."""
_WINDOW_MASK = LATENCY_WINDOW - 1


@dataclass(slots=True)
class RunStats:
    """Counters the pipeline updates as it runs (plain ints: cheap on the hot path)."""

    updates: int = 0
    pool_changes: int = 0
    opportunities: int = 0
    rejected: int = 0
    orders: int = 0
    confirmed: int = 0
    failed: int = 0
    expired: int = 0
    simulation_failed: int = 0
    skipped_busy: int = 0
    skipped_not_fresh: int = 0
    slot: int = 0
    latencies_ns: array[int] = field(default_factory=lambda: array("q", bytes(8 * LATENCY_WINDOW)))
    """Ring of update->decision latencies; slot ``i % LATENCY_WINDOW`` holds sample ``i``."""
    latency_samples: int = 0
    trades: list[dict[str, Any]] = field(default_factory=list)
    finder: CycleFinder | None = field(default=None, repr=False, compare=False)
    """The finder whose counters :attr:`quote_faults` reads (the Pipeline sets it)."""

    @property
    def quote_faults(self) -> int:
        """Cycles the finder skipped because a quote was above u64 (bad pool state or an adapter
        bug), read from it now; 0 without a finder."""
        return 0 if self.finder is None else self.finder.quote_faults

    def faults(self) -> dict[str, Any]:
        """The summary's fault figures: ``quote_faults`` and ``last_quote_fault`` (its slot,
        pools and message; None when there was none)."""
        last = None if self.finder is None else self.finder.last_quote_fault
        return {
            "quote_faults": self.quote_faults,
            "last_quote_fault": None if last is None else {
                "slot": last.slot, "pools": [str(p) for p in last.cycle.pools],
                "message": last.message,
            },
        }  # fmt: skip

    def record_latency(self, ns: int) -> None:
        """Add one update->decision latency sample (the oldest drops out of the window)."""
        self.latencies_ns[self.latency_samples & _WINDOW_MASK] = ns
        self.latency_samples += 1

    def latency_us(self) -> dict[str, float]:
        """p50, p99 and max of the recent latency samples (:data:`LATENCY_WINDOW`) in
        microseconds; ``samples``: how many that is."""
        data = sorted(self.latencies_ns[: min(self.latency_samples, LATENCY_WINDOW)])
        if not data:
            return {"p50": 0.0, "p99": 0.0, "max": 0.0, "samples": 0}

        def pick(q: float) -> float:
            return round(data[min(len(data) - 1, int(q * len(data)))] / 1000, 1)

        return {"p50": pick(0.50), "p99": pick(0.99), "max": round(data[-1] / 1000, 1), "samples": len(data)}


def _fmt_amount(value: int, decimals: int) -> str:
    sign = "-" if value < 0 else "+"
    whole, frac = divmod(abs(value), 10**decimals)
    return f"{sign}{whole}.{frac:0{decimals}d}" if decimals else f"{sign}{whole}"


class StatusLine:
    """Prints a one-line status every interval: a rewritten line on a terminal, plain lines otherwise."""

    def __init__(self, stream: TextIO, symbols: dict[str, tuple[str, int]]) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._symbols = symbols
        self._last_updates = 0
        self._ticks = 0

    def show(
        self,
        stats: RunStats,
        elapsed_s: float,
        interval_s: float,
        pnl: dict[str, int],
        gc_max_pause_ms: float | None = None,
    ) -> None:
        """Write the status for the last interval (``gc_max_pause_ms``: the GC policy's longest
        pause so far, shown when given)."""
        rate = (stats.updates - self._last_updates) / interval_s
        self._last_updates = stats.updates
        self._ticks += 1
        pnl_text = " ".join(
            f"{_fmt_amount(v, self._symbols.get(m, (m[:4], 0))[1])} {self._symbols.get(m, (m[:4], 0))[0]}"
            for m, v in pnl.items()
            if v
        ) or "0"
        line = (
            f"[{elapsed_s:6.1f}s] slot {stats.slot} | {rate:6.0f} upd/s | opps {stats.opportunities} | "
            f"orders {stats.orders} | landed {stats.confirmed} failed {stats.failed + stats.expired} "
            f"| pnl {pnl_text}"
        )
        if gc_max_pause_ms is not None:
            line += f" | gc max {gc_max_pause_ms:.1f} ms"
        quote_faults = stats.quote_faults
        if quote_faults:
            line += f" | quote faults {quote_faults}"
        if self._tty:
            self._stream.write("\r\x1b[2K" + line)
        elif self._ticks % 5 == 1:
            self._stream.write(line + "\n")
        self._stream.flush()

    def close(self) -> None:
        """End the rewritten line."""
        if self._tty:
            self._stream.write("\n")
            self._stream.flush()


def format_summary(summary: dict[str, Any]) -> str:
    """The end-of-run summary for a person."""
    symbols: dict[str, list[Any]] = summary.get("tokens", {})
    lat = summary["detect_latency_us"]
    lines = [
        f"solarb run finished after {summary['duration_s']:.1f}s",
        (f"  updates {summary['updates']}, opportunities {summary['opportunities']}, "
         f"orders {summary['orders']}"),
        (f"  confirmed {summary['confirmed']}, failed {summary['failed']}, "
         f"expired {summary.get('expired', 0)}, simulation failed {summary.get('simulation_failed', 0)}"),
        f"  detection latency p50 {lat['p50']} us, p99 {lat['p99']} us",
        "  pnl (journal) vs chain balances:",
    ]
    for mint, start in summary["start_balances"].items():
        symbol, decimals = symbols.get(mint, (mint[:6], 0))
        end = summary["end_balances"].get(mint, 0)
        pnl = summary["pnl"].get(mint, 0)
        mark = "ok" if pnl == end - start else "MISMATCH"
        lines.append(
            f"    {symbol:>6}: pnl {_fmt_amount(pnl, decimals)}  chain {_fmt_amount(end - start, decimals)}  {mark}"
        )
    gc_figures = summary.get("gc")
    if gc_figures:
        lines.append(
            f"  gc: {gc_figures['young']} young, {gc_figures['freeze']} freeze, "
            f"{gc_figures['deep']} deep, {gc_figures['automatic']} automatic collections; "
            f"max pause {gc_figures['max_pause_ms']} ms"
        )
    if summary.get("quote_faults"):
        last = summary.get("last_quote_fault") or {}
        lines.append(
            f"  quote faults: {summary['quote_faults']} cycles skipped (a quote above 2^64 - 1); "
            f"last at slot {last.get('slot')} through {', '.join(last.get('pools', []))}: "
            f"{last.get('message')}"
        )
    lines.append(f"  fees paid: {summary.get('fees_lamports', 0)} lamports")
    lines.append(f"  journal: {summary.get('journal', '')}")
    return "\n".join(lines)
