"""Injected time. Stage code never reads the machine clock directly."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Monotonic nanoseconds (for latencies) and wall-clock seconds (for journal timestamps)."""

    def monotonic_ns(self) -> int: ...
    def wall_s(self) -> float: ...


class SystemClock:
    """The machine's clocks."""

    def monotonic_ns(self) -> int:
        """Monotonic time in nanoseconds."""
        return time.monotonic_ns()

    def wall_s(self) -> float:
        """Unix time in seconds."""
        return time.time()


class ManualClock:
    """A clock that moves only when told to (tests, replay)."""

    def __init__(self, start_ns: int = 0, wall_s: float = 0.0) -> None:
        self._ns = start_ns
        self._wall = wall_s

    def monotonic_ns(self) -> int:
        """Current manual time in nanoseconds."""
        return self._ns

    def wall_s(self) -> float:
        """Current manual wall time in seconds."""
        return self._wall + self._ns / 1e9

    def advance(self, ns: int) -> None:
        """Move time forward by ``ns`` nanoseconds."""
        if ns < 0:
            raise ValueError("time cannot go backwards")
        self._ns += ns
