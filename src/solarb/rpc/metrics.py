"""RPC metrics per endpoint and method: requests, successes, errors by kind, latency histogram,
retries, hedges; exported as a plain dict by :meth:`RpcMetrics.snapshot` (prometheus later).

Recording is a few dict/int operations (no allocation beyond the first sample of a key), so it
may run on every attempt.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Any

from solarb.rpc.errors import (
    RpcAuthError,
    RpcError,
    RpcNodeUnhealthy,
    RpcProtocolError,
    RpcRateLimited,
    RpcResponseError,
    RpcTimeout,
    RpcTransportError,
)

__all__ = ["LATENCY_BUCKETS_MS", "MethodStats", "RpcMetrics", "error_kind"]

#: Upper bounds (ms) of the latency histogram buckets; one overflow bucket follows.
LATENCY_BUCKETS_MS: tuple[float, ...] = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)


def error_kind(err: BaseException) -> str:
    """A short label for an error: timeout, rate_limited, unhealthy, transport, protocol, auth,
    response, stale (set by the pool) or other."""
    if isinstance(err, RpcTimeout):
        return "timeout"
    if isinstance(err, RpcRateLimited):
        return "rate_limited"
    if isinstance(err, RpcNodeUnhealthy):
        return "unhealthy"
    if isinstance(err, RpcTransportError):
        return "transport"
    if isinstance(err, RpcProtocolError):
        return "protocol"
    if isinstance(err, RpcAuthError):
        return "auth"
    if isinstance(err, RpcResponseError):
        return "response"
    if isinstance(err, RpcError):
        return "rpc"
    return "other"


@dataclass(slots=True)
class MethodStats:
    """Counters of one (endpoint, method)."""

    requests: int = 0
    ok: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    hedges: int = 0
    buckets: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS_MS) + 1))
    latency_sum_ms: float = 0.0

    def observe(self, latency_ms: float) -> None:
        """Add one latency to the histogram."""
        self.buckets[bisect_left(LATENCY_BUCKETS_MS, latency_ms)] += 1
        self.latency_sum_ms += latency_ms

    def as_dict(self) -> dict[str, Any]:
        """Plain-data view."""
        n = sum(self.buckets)
        return {
            "requests": self.requests,
            "ok": self.ok,
            "errors": dict(self.errors),
            "retries": self.retries,
            "hedges": self.hedges,
            "latency_mean_ms": round(self.latency_sum_ms / n, 3) if n else None,
            "latency_hist_ms": {
                **{f"le_{b:g}": c for b, c in zip(LATENCY_BUCKETS_MS, self.buckets, strict=False)},
                "inf": self.buckets[-1],
            },
        }


class RpcMetrics:
    """Counters keyed by endpoint name and method."""

    def __init__(self) -> None:
        self._stats: dict[str, dict[str, MethodStats]] = {}
        self.calls = 0
        self.call_errors: dict[str, int] = {}
        self.deadline_exceeded = 0

    def _get(self, endpoint: str, method: str) -> MethodStats:
        per = self._stats.get(endpoint)
        if per is None:
            per = self._stats[endpoint] = {}
        st = per.get(method)
        if st is None:
            st = per[method] = MethodStats()
        return st

    def request(self, endpoint: str, method: str) -> None:
        """An attempt was sent."""
        self._get(endpoint, method).requests += 1

    def success(self, endpoint: str, method: str, latency_s: float) -> None:
        """An attempt got a usable answer after ``latency_s``."""
        st = self._get(endpoint, method)
        st.ok += 1
        st.observe(latency_s * 1000.0)

    def failure(self, endpoint: str, method: str, kind: str, latency_s: float | None) -> None:
        """An attempt failed with an error of ``kind``."""
        st = self._get(endpoint, method)
        st.errors[kind] = st.errors.get(kind, 0) + 1
        if latency_s is not None:
            st.observe(latency_s * 1000.0)

    def retry(self, endpoint: str, method: str) -> None:
        """A call retried after a failure on ``endpoint``."""
        self._get(endpoint, method).retries += 1

    def hedge(self, endpoint: str, method: str) -> None:
        """``endpoint`` was slow, so a hedge went to another one."""
        self._get(endpoint, method).hedges += 1

    def call_done(self, error: BaseException | None) -> None:
        """A whole call finished (after its retries)."""
        self.calls += 1
        if error is not None:
            kind = error_kind(error)
            self.call_errors[kind] = self.call_errors.get(kind, 0) + 1

    def endpoint_totals(self, endpoint: str) -> dict[str, Any]:
        """Requests, ok, errors by kind, retries and hedges summed over methods."""
        out: dict[str, Any] = {"requests": 0, "ok": 0, "errors": {}, "retries": 0, "hedges": 0}
        for st in self._stats.get(endpoint, {}).values():
            out["requests"] += st.requests
            out["ok"] += st.ok
            out["retries"] += st.retries
            out["hedges"] += st.hedges
            for k, v in st.errors.items():
                out["errors"][k] = out["errors"].get(k, 0) + v
        return out

    def snapshot(self) -> dict[str, Any]:
        """``{"calls", "call_errors", "deadline_exceeded", "endpoints": {name: {...}}}``."""
        return {
            "calls": self.calls,
            "call_errors": dict(self.call_errors),
            "deadline_exceeded": self.deadline_exceeded,
            "endpoints": {
                name: {
                    **self.endpoint_totals(name),
                    "methods": {m: st.as_dict() for m, st in per.items()},
                }
                for name, per in self._stats.items()
            },
        }
