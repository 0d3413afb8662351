"""The engine's cyclic garbage-collector policy: no collection of the old heap on the hot path.

CPython 3.11's collector (``Modules/gcmodule.c``) collects generation 0 once the net count of new
tracked containers passes ``threshold0`` (700), generation 1 every ``threshold1`` (10) gen-0
collections and generation 2 (everything not frozen) every ``threshold2`` (10) gen-1 collections,
but only while ``long_lived_pending > long_lived_total / 4``. ``gc.freeze()`` moves every tracked
object to a permanent generation no collection scans (reference counting still frees them). Two
things made the engine stall: a full collection scans every unfrozen object (the node froze
nothing: ~520,000 tracked objects at 10,000 pools, 0.1-0.6 s), and after a freeze
``long_lived_total`` is only what was promoted since, so full collections come *more* often and
each scans everything built lazily since the freeze (plans, decoded arrays, freshness groups: the
bench at 10,000 pools had 2-3 of 0.1-0.6 s in 5,000 updates, inside updates).

The replay makes no cyclic garbage (every collection there finds 0 objects); the node's I/O does
(httpx requests, asyncio events: ~300 objects/s on the embedded cluster). A collection costs the
objects it scans, so the policy scans what is new, and freezes what has lived a while:

* ``gc.collect()`` then ``gc.freeze()``: the loaded heap leaves the collector's generations.
* Thresholds ``(young_limit, 2**30, 2**30)``: no automatic collection but a generation-0 one
  past ``young_limit`` net new containers (a safety net for a long synchronous stretch).
* :meth:`GcPolicy.poll` runs what is due, one collection per call. *young*: generation 0 (what
  was allocated since the last collection; survivors join generation 1), once ``young_min`` new
  containers or ``young_interval_s`` have passed. *freeze*: generations 0-1 (every object made
  since the last freeze that still lives) then ``gc.freeze()``, every ``freeze_interval_s`` or
  once young collections kept ``freeze_min`` objects: its pause is bounded by what the engine
  kept since, never the whole heap (a cold start builds plans and arrays for every pool: at
  10,000 pools one freeze after 10 s scanned ~100,000 objects, 0.25-0.3 s). *deep*
  (``gc.unfreeze()``, full collection, freeze) every ``deep_interval_s``: it also collects cycles
  among frozen objects, which nothing else scans. Freezing after ``freeze_interval_s`` rather
  than after each young collection is measured: on the embedded cluster, re-freezing every second
  left ~35 objects/s of the node's I/O garbage to the deep collection; every 5 s, ~2/s.
* The caller says whether it is idle (no update pending); when not, a collection waits until it
  has been due for ``max_delay_s`` (deep: ``deep_max_delay_s``) and then runs anyway: the bound on
  the time between collections (a young one also past ``young_limit / 2`` new containers).
  :meth:`GcPolicy.run` is the node's task: :meth:`poll` every ``check_interval_s``; while idle
  with next to nothing allocated (fewer than ``_QUIET`` new containers since the last poll) and
  nothing due, the wait doubles up to ``idle_check_interval_s``, so an idle engine wakes ~3 times
  a second instead of 20 (the bench's idle figure: 0.64-0.76 % of a core at 50 ms, see
  bench/README.md).

Counters (:meth:`GcPolicy.snapshot`) cover every collection in the process after the load's
(the policy's own and automatic ones, through ``gc.callbacks``): count per kind, time, max pause,
objects collected. :meth:`GcPolicy.stop` restores the collector as it found it.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["GcPolicy", "GcSettings", "GcStats", "updates_pending"]

_NEVER = 1 << 30  # a gc threshold no count reaches
_SEC = 1_000_000_000
_QUIET = 256  # new containers between two polls below which the engine counts as quiet
_YOUNG, _FREEZE, _DEEP, _AUTO = "young", "freeze", "deep", "automatic"  # GcStats field names


@dataclass(slots=True, frozen=True)
class GcSettings:
    """When collections run (seconds of monotonic time; counts of net new tracked containers,
    ``gc.get_count()[0]``)."""

    young_min: int = 5_000  # idle: a young collection once this many new containers
    young_interval_s: float = 1.0  # idle: ... or this long after the last collection
    freeze_interval_s: float = 10.0  # idle: a freeze collection this long after the last one
    freeze_min: int = 20_000  # idle: ... or once young collections kept this many (its pause)
    deep_interval_s: float = 3_600.0  # idle: a deep collection this long after the last one
    max_delay_s: float = 1.0  # a young or freeze collection due this long runs even when busy
    deep_max_delay_s: float = 600.0  # a deep one due this long runs even when busy
    young_limit: int = 40_000  # automatic generation-0 collection past this many (safety net;
    # a busy poll runs a young collection from half of it)
    check_interval_s: float = 0.05  # the node's task polls this often
    idle_check_interval_s: float = 0.4  # ... and down to this often while idle and quiet

    def __post_init__(self) -> None:
        if not 0 < self.young_min <= self.young_limit or self.freeze_min <= 0:
            raise ValueError("need 0 < young_min <= young_limit and 0 < freeze_min")
        if (
            min(
                self.young_interval_s,
                self.freeze_interval_s,
                self.deep_interval_s,
                self.check_interval_s,
                self.idle_check_interval_s,
            )
            <= 0
        ):
            raise ValueError("intervals must be positive")
        if min(self.max_delay_s, self.deep_max_delay_s) < 0:
            raise ValueError("delays must not be negative")


@dataclass(slots=True)
class GcStats:
    """What the collector did while the policy was started (after the load's collection)."""

    young: int = 0  # the policy's young collections (generation 0)
    freeze: int = 0  # the policy's freeze collections (generations 0-1, then freeze)
    deep: int = 0  # the policy's deep collections (unfreeze, collect, freeze)
    automatic: int = 0  # any other: the young_limit safety net, gc.collect() calls elsewhere
    forced: int = 0  # policy collections run although the caller was busy (bound reached)
    collected: int = 0  # unreachable objects found
    total_ns: int = 0
    max_pause_ns: int = 0
    last_ns: int = 0  # monotonic time of the policy's last collection


class GcPolicy:
    """Freeze after load; collect what is new at idle moments, within a time bound (module doc)."""

    def __init__(
        self, settings: GcSettings | None = None, now_ns: Callable[[], int] = time.monotonic_ns
    ) -> None:
        self.settings = settings or GcSettings()
        self.stats = GcStats()
        self._now = now_ns
        self._started = False
        self._saved: tuple[tuple[int, int, int], bool] = ((700, 10, 10), True)
        self._kind = _AUTO  # the collection running now (the policy's own, else automatic)
        self._t0 = 0
        self._last_freeze = 0
        self._last_deep = 0
        self._survivors = 0  # objects young collections moved to generation 1 since the freeze
        st = self.settings  # the intervals in ns: poll does integer arithmetic only
        self._young_ns = int(st.young_interval_s * _SEC)
        self._freeze_ns = int(st.freeze_interval_s * _SEC)
        self._deep_ns = int(st.deep_interval_s * _SEC)
        self._delay_ns = int(st.max_delay_s * _SEC)
        self._deep_delay_ns = int(st.deep_max_delay_s * _SEC)

    @property
    def started(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._started

    def start(self) -> None:
        """Collect and freeze the loaded heap, then take over the collector (call once loaded)."""
        if self._started:
            return
        self._saved = (gc.get_threshold(), gc.isenabled())
        self._started = True
        self._collect(_DEEP)  # the load's collection: before the callback, not counted
        gc.callbacks.append(self._on_gc)
        gc.set_threshold(self.settings.young_limit, _NEVER, _NEVER)
        gc.enable()

    def stop(self, final: bool = True) -> None:
        """Give the collector back as found: thresholds, enabled flag, nothing frozen. ``final``:
        a deep collection first (its ``collected`` is the cyclic garbage left among frozen
        objects and the new ones)."""
        if not self._started:
            return
        if final:
            self.collect(_DEEP)
        gc.unfreeze()
        gc.callbacks.remove(self._on_gc)
        self._started = False
        thresholds, enabled = self._saved
        gc.set_threshold(*thresholds)
        if not enabled:
            gc.disable()

    def poll(self, idle: bool = True) -> str | None:
        """Run the collection due now, if any, and return its kind (``"young"``, ``"freeze"``,
        ``"deep"``).
        ``idle``: no update is pending, so a collection delays nothing; otherwise only one due
        for longer than its ``max_delay`` runs (counted in ``forced``)."""
        if not self._started:
            return None
        now = self._now()
        deep_due = now - self._last_deep - self._deep_ns
        freeze_due = now - self._last_freeze - self._freeze_ns
        young_due = now - self.stats.last_ns - self._young_ns
        if idle:
            if deep_due >= 0:
                kind = _DEEP
            elif freeze_due >= 0 or self._survivors >= self.settings.freeze_min:
                kind = _FREEZE
            elif young_due >= 0 or gc.get_count()[0] >= self.settings.young_min:
                kind = _YOUNG
            else:
                return None
        elif deep_due >= self._deep_delay_ns:
            kind = _DEEP
        elif freeze_due >= self._delay_ns:
            kind = _FREEZE
        elif young_due >= self._delay_ns or gc.get_count()[0] >= self.settings.young_limit // 2:
            kind = _YOUNG  # (the second: between batches rather than the net inside an update)
        else:
            return None
        if not idle:
            self.stats.forced += 1
        self._collect(kind)
        return kind

    def collect(self, kind: str) -> int:
        """Run one collection of ``kind`` (``"young"``, ``"freeze"`` or ``"deep"``) now, as
        :meth:`poll` would; return its duration in ns (0 when the policy is not started)."""
        if kind not in (_YOUNG, _FREEZE, _DEEP):
            raise ValueError(f"unknown collection kind {kind!r}")
        if not self._started:
            return 0
        t0 = time.perf_counter_ns()
        self._collect(kind)
        return time.perf_counter_ns() - t0

    async def run(self, busy: Callable[[], bool]) -> None:
        """The node's task: :meth:`poll` every ``check_interval_s`` (idle unless ``busy()``) until
        cancelled, backing off to ``idle_check_interval_s`` while idle and quiet (module doc).
        Between two polls the event loop ran the hot path's batches to completion."""
        interval = self.settings.check_interval_s
        longest = max(interval, self.settings.idle_check_interval_s)
        wait = interval
        last = gc.get_count()[0]
        while True:
            await asyncio.sleep(wait)
            made = gc.get_count()[0] - last  # negative: a collection ran meanwhile
            idle = not busy()
            kind = self.poll(idle=idle)
            last = gc.get_count()[0]
            quiet = idle and kind is None and 0 <= made < _QUIET
            wait = min(wait * 2, longest) if quiet else interval

    def snapshot(self) -> dict[str, Any]:
        """Counters for the run summary (milliseconds rounded to 0.01); ``frozen``: objects in
        the permanent generation now (a walk of that list: ~10 ms per 100,000, not for the hot
        path)."""
        st = self.stats
        return {
            "young": st.young,
            "freeze": st.freeze,
            "deep": st.deep,
            "automatic": st.automatic,
            "forced": st.forced,
            "collected": st.collected,
            "total_ms": round(st.total_ns / 1e6, 2),
            "max_pause_ms": round(st.max_pause_ns / 1e6, 2),
            "frozen": gc.get_freeze_count(),
        }

    # ------------------------------------------------------------------ internals

    def _collect(self, kind: str) -> None:
        self._kind = kind
        try:
            if kind == _YOUNG:  # survivors join generation 1 (counted: objects that die there by
                # reference counting stay counted, so the estimate errs towards freezing early)
                self._survivors += len(gc.get_objects(0)) - gc.collect(0)
            else:
                self._survivors = 0
                if kind == _DEEP:
                    gc.unfreeze()  # O(1): the permanent list joins generation 2
                    gc.collect()
                else:  # the unfrozen are in generations 0-1, or in 2 only if collected since
                    gc.collect(1)  # (a gc.collect() elsewhere); 1 also skips the freelists
                gc.freeze()  # O(1); gc.get_freeze_count() walks the list (~0.1 us per object)
        finally:
            self._kind = _AUTO
        now = self._now()
        self.stats.last_ns = now
        if kind != _YOUNG:
            self._last_freeze = now
        if kind == _DEEP:
            self._last_deep = now

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter_ns()
            return
        ns = time.perf_counter_ns() - self._t0
        st = self.stats
        kind = self._kind  # each kind names its GcStats counter
        setattr(st, kind, getattr(st, kind) + 1)
        st.collected += info["collected"]
        st.total_ns += ns
        st.max_pause_ns = max(st.max_pause_ns, ns)


def updates_pending(feed: object) -> Callable[[], bool]:
    """The node's "busy" test for :meth:`GcPolicy.run`: true while ``feed``'s delivery holds
    updates the hot path has not taken yet (always false for a feed without one)."""
    delivery = getattr(feed, "delivery", None)
    if delivery is None:
        return lambda: False
    return delivery.has_pending  # type: ignore[no-any-return]
