"""Many RPC endpoints behaving like one fast, healthy one.

:class:`EndpointPool` routes each JSON-RPC call by its :mod:`~solarb.rpc.policy`:

* reads go to a healthy endpoint picked at random with probability proportional to
  ``weight / (latency EWMA * error penalty)``; endpoints with an open breaker, an empty token
  bucket (or a 429 cool-down) or a slot lag beyond ``lag_threshold`` are skipped (lagging ones are
  used only when nothing else is left). Hedged methods ask a second endpoint when the first has
  not answered within its recent p95. Failures fail over to an untried endpoint at once, then
  back off (exponential, full jitter, Retry-After respected).
* ``sendTransaction`` goes to every send-capable endpoint at once; the first signature wins and
  all-failed attempts are rebroadcast (same bytes, never re-signed) until the deadline.
* every call has a deadline for all its attempts (policy, or tighter with :meth:`deadline`).

:class:`PooledRpcClient` is an :class:`~solarb.rpc.client.RpcClient` over a pool: the engine uses
it unchanged. A reply that is garbled, says the node is unhealthy/behind (-32005, -32016...) or
carries a context slot too far behind the cluster counts against the endpoint and is retried
elsewhere; a JSON-RPC error that is the answer (preflight failure, invalid params) is raised.
Calls raise RpcTimeout (deadline passed; chained to the last attempt's error), the last
retryable error when attempts run out, or the node's RpcResponseError.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import httpx
import orjson

from solarb.rpc.client import RpcClient
from solarb.rpc.errors import (
    RpcError,
    RpcNodeUnhealthy,
    RpcRateLimited,
    RpcResponseError,
    RpcTimeout,
    RpcTransportError,
)
from solarb.rpc.health import EndpointHealth
from solarb.rpc.limits import TokenBucket
from solarb.rpc.metrics import RpcMetrics, error_kind
from solarb.rpc.policy import CallKind, MethodPolicy, PolicyTable, backoff_delay
from solarb.rpc.transport import HttpTransport, Transport

__all__ = ["Endpoint", "EndpointConfig", "EndpointPool", "Role", "decode_single_reply"]

T = TypeVar("T")
Role = Literal["read", "send", "both"]
_DEADLINE: ContextVar[float | None] = ContextVar("solarb_rpc_deadline", default=None)
_PROBE = "probe"


@dataclass(frozen=True, slots=True)
class EndpointConfig:
    """One endpoint: ``rps`` <= 0 means no client-side limit; ``burst`` defaults to max(1, rps)."""

    url: str
    name: str = ""
    weight: float = 1.0
    rps: float = 0.0
    burst: float | None = None
    role: Role = "both"


def _default_name(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


class Endpoint:
    """An endpoint's transport, health, rate limit and role."""

    def __init__(self, config: EndpointConfig, transport: Transport, health: EndpointHealth,
                 bucket: TokenBucket) -> None:
        self.config = config
        self.name = config.name or _default_name(config.url)
        self.transport = transport
        self.health = health
        self.bucket = bucket

    def serves(self, kind: CallKind) -> bool:
        """Does this endpoint's role cover ``kind``?"""
        role = self.config.role
        return role == "both" or (role == "send") == (kind is CallKind.SEND)


def http_transport(url: str, max_connections: int = 128) -> HttpTransport:
    """A keep-alive transport with a bounded pool: HTTP/2 offered on https (ALPN decides, so an
    HTTP/1.1-only endpoint still works), HTTP/1.1 on plain http (no h2c; enabling h2 there makes
    httpcore queue concurrent requests behind the first connection)."""
    limits = httpx.Limits(max_connections=max_connections,
                          max_keepalive_connections=max_connections, keepalive_expiry=60.0)
    return HttpTransport(
        url,
        timeout=httpx.Timeout(connect=1.0, read=10.0, write=5.0, pool=2.0),
        transport=httpx.AsyncHTTPTransport(
            http2=urlsplit(url).scheme == "https", limits=limits, retries=0
        ),
    )


def _context_slot(result: Any) -> int | None:
    if isinstance(result, dict):
        ctx = result.get("context")
        if isinstance(ctx, dict):
            slot = ctx.get("slot")
            if isinstance(slot, int) and not isinstance(slot, bool):
                return slot
    return None


def _not_delivered(err: RpcError) -> bool:
    """True when the request certainly never reached the node (safe to retry a WRITE)."""
    cause = err.__cause__
    if isinstance(err, RpcRateLimited):
        return True
    if isinstance(err, RpcTransportError):
        return isinstance(cause, httpx.ConnectError)
    if isinstance(err, RpcTimeout):
        return isinstance(cause, httpx.ConnectTimeout | httpx.PoolTimeout)
    return False


class EndpointPool:
    """Routes JSON-RPC calls over ``endpoints`` (see module doc). Implements Transport too.

    ``transport_factory(config)`` builds each endpoint's transport (:func:`http_transport`).
    ``clock`` is monotonic seconds; ``seed`` makes routing and jitter reproducible.
    """

    def __init__(
        self,
        endpoints: Sequence[EndpointConfig],
        *,
        policies: PolicyTable | None = None,
        lag_threshold: int = 20,
        probe_interval: float = 1.0,
        hedge_default_s: float = 0.05,
        hedge_min_s: float = 0.002,
        failure_threshold: int = 5,
        reset_timeout: float = 1.0,
        rate_limit_cooldown_s: float = 1.0,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
        transport_factory: Callable[[EndpointConfig], Transport] | None = None,
    ) -> None:
        if not endpoints:
            raise ValueError("EndpointPool needs at least one endpoint")
        make = transport_factory or (lambda c: http_transport(c.url))
        self.endpoints = [
            Endpoint(c, make(c),
                     EndpointHealth(failure_threshold=failure_threshold,
                                    reset_timeout=reset_timeout, clock=clock),
                     TokenBucket(c.rps, c.burst, clock))
            for c in endpoints
        ]
        seen: dict[str, int] = {}
        for ep in self.endpoints:  # same host:port twice (different paths): name them apart
            seen[ep.name] = n = seen.get(ep.name, 0) + 1
            ep.name = f"{ep.name}#{n}" if n > 1 else ep.name
        self.policies = policies or PolicyTable()
        self.metrics = RpcMetrics()
        self.lag_threshold = lag_threshold
        self.probe_interval = probe_interval
        self.hedge_default_s = hedge_default_s
        self.hedge_min_s = hedge_min_s
        self.rate_limit_cooldown_s = rate_limit_cooldown_s
        self._clock = clock
        self._rng = random.Random(seed)
        self._background: set[asyncio.Task[Any]] = set()
        self._probe_task: asyncio.Task[None] | None = None
        self._closed = False

    # ------------------------------------------------------------ public surface

    @property
    def cluster_slot(self) -> int:
        """Highest slot any endpoint reported (-1 before the first)."""
        return max(e.health.slot for e in self.endpoints)

    def degraded(self, ep: Endpoint) -> bool:
        """Is ``ep`` more than ``lag_threshold`` slots behind the cluster?"""
        return ep.health.lag() > self.lag_threshold

    @contextlib.contextmanager
    def deadline(self, seconds: float) -> Iterator[None]:
        """Bound every call made inside the block to ``seconds`` from now (nesting tightens)."""
        end = self._clock() + seconds
        outer = _DEADLINE.get()
        token = _DEADLINE.set(end if outer is None else min(outer, end))
        try:
            yield
        finally:
            _DEADLINE.reset(token)

    async def request(self, body: bytes) -> bytes:
        """Transport seam: route a raw body as an un-hedged read (JSON checked, not interpreted)."""
        def check(raw: bytes) -> bytes:
            RpcClient._loads(raw, "request")
            return raw
        return await self.execute("request", body, check)

    async def execute(self, method: str, body: bytes, decode: Callable[[bytes], T]) -> T:
        """Run one call of ``method`` under its policy. ``decode`` turns a reply body into the
        result, raising RpcError for a bad one (RpcResponseError = the node's answer: final)."""
        if self._closed:
            raise RpcTransportError("endpoint pool is closed")
        self._start_probes()
        pol = self.policies.get(method)
        end = self._clock() + pol.deadline_s
        outer = _DEADLINE.get()
        if outer is not None:
            end = min(end, outer)
        try:
            if pol.kind is CallKind.SEND:
                result = await self._send(method, body, decode, pol, end)
            else:
                result = await self._route(method, body, decode, pol, end)
        except RpcError as e:
            self.metrics.call_done(e)
            raise
        self.metrics.call_done(None)
        return result

    def snapshot(self) -> dict[str, Any]:
        """Metrics plus each endpoint's health: plain data for the run summary."""
        snap = self.metrics.snapshot()
        cluster = self.cluster_slot
        eps = snap["endpoints"]
        for ep in self.endpoints:
            h = ep.health
            entry = eps.setdefault(ep.name,
                                   {**self.metrics.endpoint_totals(ep.name), "methods": {}})
            lat = h.latency.value
            p95 = h.window.percentile(0.95)
            entry.update(
                role=ep.config.role,
                weight=ep.config.weight,
                breaker=h.breaker.state.value,
                breaker_opened=h.breaker.opened,
                latency_ewma_ms=None if lat is None else round(lat * 1000, 3),
                latency_p95_ms=None if p95 is None else round(p95 * 1000, 3),
                error_rate=round(h.errors.value or 0.0, 4),
                slot=h.slot,
                lag=h.lag(),
                degraded=self.degraded(ep),
            )
        snap["cluster_slot"] = cluster
        return snap

    async def aclose(self) -> None:
        """Stop probes and background attempts; close every transport."""
        self._closed = True
        tasks = list(self._background)
        if self._probe_task is not None:
            tasks.append(self._probe_task)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for ep in self.endpoints:
            close = getattr(ep.transport, "aclose", None)
            if close is not None:
                await close()

    # ------------------------------------------------------------ routing

    def _pick(self, kind: CallKind, exclude: set[str]) -> tuple[Endpoint | None, float]:
        """Choose an endpoint for ``kind`` (taking a token and any half-open probe slot), or
        None and the seconds until one may be free."""
        fresh: list[Endpoint] = []
        stale: list[Endpoint] = []
        wait = float("inf")
        for ep in self.endpoints:
            if not ep.serves(kind) or ep.name in exclude:
                continue
            if not ep.health.usable() or ep.bucket.available() < 1:
                wait = min(wait, max(ep.health.breaker.retry_in(), ep.bucket.wait_time()))
                continue
            (stale if self.degraded(ep) else fresh).append(ep)
        cands = fresh or stale
        while cands:
            if len(cands) == 1:
                ep = cands[0]
            else:
                scores = [e.health.score(e.config.weight, self.hedge_default_s) for e in cands]
                ep = self._rng.choices(cands, weights=scores)[0]
            if ep.bucket.try_acquire() and ep.health.breaker.acquire():
                return ep, 0.0
            cands.remove(ep)
        return None, wait

    async def _wait_for_capacity(self, wait: float, end: float, last: RpcError | None,
                                 method: str) -> None:
        remaining = end - self._clock()
        if wait >= remaining:
            raise self._expired(method, last, "no endpoint available before the deadline")
        await asyncio.sleep(max(0.001, wait if wait != float("inf") else remaining))

    def _expired(self, method: str, last: RpcError | None,
                 why: str = "deadline passed") -> RpcError:
        self.metrics.deadline_exceeded += 1
        err = RpcTimeout(f"{method}: {why}" + (f"; last error: {last}" if last else ""))
        err.__cause__ = last
        return err

    async def _attempt(self, ep: Endpoint, method: str, body: bytes,
                       decode: Callable[[bytes], T], timeout: float, kind: CallKind) -> T:
        """One request to ``ep``; records health and metrics; raises RpcError."""
        self.metrics.request(ep.name, method)
        h = ep.health
        h.in_flight += 1
        t0 = self._clock()
        try:
            try:
                async with asyncio.timeout(max(0.0, timeout)):
                    raw = await ep.transport.request(body)
            except TimeoutError as e:
                raise RpcTimeout(f"{method}: no answer from {ep.name} in {timeout:.3f}s") from e
            result = decode(raw)
            if kind is not CallKind.SEND:
                self._check_slot(ep, method, result)
        except asyncio.CancelledError:  # the caller gave up: a half-open probe slot goes back
            h.breaker.cancel_probe()
            raise
        except RpcResponseError:  # the node answered: healthy, but the call failed
            dt = self._clock() - t0
            h.record_success(dt)
            self.metrics.failure(ep.name, method, "response", dt)
            raise
        except RpcError as e:
            dt = self._clock() - t0
            limited = isinstance(e, RpcRateLimited)
            if limited:
                ep.bucket.block_for(e.retry_after if e.retry_after is not None
                                    else self.rate_limit_cooldown_s)
            h.record_failure(dt, breaker=not limited and not isinstance(e, _Stale))
            kind_ = "stale" if isinstance(e, _Stale) else error_kind(e)
            self.metrics.failure(ep.name, method, kind_, dt)
            raise
        finally:
            h.in_flight -= 1
        dt = self._clock() - t0
        h.record_success(dt)
        self.metrics.success(ep.name, method, dt)
        return result

    def _check_slot(self, ep: Endpoint, method: str, result: Any) -> None:
        slot = result if method == "getSlot" and isinstance(result, int) else _context_slot(result)
        if slot is None:
            return
        lag = ep.health.observe_slot(slot, self.cluster_slot)
        if method == _PROBE or lag <= self.lag_threshold:
            return
        if any(e is not ep and e.serves(CallKind.READ) and e.health.usable()
               and not self.degraded(e) for e in self.endpoints):
            raise _Stale(f"{method}: {ep.name} answered at slot {slot}, {lag} slots behind")

    def _has_alternative(self, ep: Endpoint, kind: CallKind, tried: set[str]) -> bool:
        """Is there another endpoint a hedge could go to? (No hedging task when alone.)"""
        return any(e is not ep and e.serves(kind) and e.name not in tried and e.health.usable()
                   for e in self.endpoints)

    def _spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(_reap(self._background))
        return task

    # ------------------------------------------------------------ reads and writes

    async def _route(self, method: str, body: bytes, decode: Callable[[bytes], T],
                     pol: MethodPolicy, end: float) -> T:
        tried: set[str] = set()
        last: RpcError | None = None
        attempts = 0
        while True:
            remaining = end - self._clock()
            if remaining <= 0:
                raise self._expired(method, last)
            ep, wait = self._pick(pol.kind, tried)
            if ep is None and tried:  # everyone was tried: back off, then start over
                tried.clear()
                delay = backoff_delay(attempts, pol.backoff_base_s, pol.backoff_max_s, self._rng)
                if delay >= remaining:
                    raise self._expired(method, last)
                await asyncio.sleep(delay)
                continue
            if ep is None:
                await self._wait_for_capacity(wait, end, last, method)
                continue
            timeout = min(remaining, pol.attempt_timeout_s)
            try:
                if pol.hedge and self._has_alternative(ep, pol.kind, tried):
                    return await self._hedged(ep, method, body, decode, pol, end, tried)
                return await self._attempt(ep, method, body, decode, timeout, pol.kind)
            except RpcResponseError:
                raise
            except RpcError as e:
                last = e
                tried.add(ep.name)
                attempts += 1
                if attempts >= pol.max_attempts:
                    raise
                if pol.kind is CallKind.WRITE and not _not_delivered(e):
                    raise
                self.metrics.retry(ep.name, method)

    async def _hedged(self, first: Endpoint, method: str, body: bytes, decode: Callable[[bytes], T],
                      pol: MethodPolicy, end: float, tried: set[str]) -> T:
        def attempt(ep: Endpoint) -> asyncio.Task[T]:
            timeout = min(end - self._clock(), pol.attempt_timeout_s)
            return self._spawn(self._attempt(ep, method, body, decode, timeout, pol.kind))

        t1 = attempt(first)
        delay = min(max(first.health.p95(self.hedge_default_s), self.hedge_min_s),
                    max(0.0, end - self._clock()))
        await asyncio.wait({t1}, timeout=delay)
        if t1.done():
            return t1.result()
        second, _ = self._pick(pol.kind, tried | {first.name})
        if second is None:
            return await t1
        self.metrics.hedge(first.name, method)
        try:  # the loser finishes in the background (its connection survives)
            return await _first_ok({t1, attempt(second)})
        except RpcError:
            tried.add(second.name)
            raise

    async def _send(self, method: str, body: bytes, decode: Callable[[bytes], T],
                    pol: MethodPolicy, end: float) -> T:
        """Fan out to every send endpoint; rebroadcast the same bytes until one accepts."""
        last: RpcError | None = None
        attempts = 0
        while True:
            remaining = end - self._clock()
            if remaining <= 0:
                raise self._expired(method, last)
            targets: list[Endpoint] = []
            while True:
                ep, wait = self._pick(CallKind.SEND, {e.name for e in targets})
                if ep is None:
                    break
                targets.append(ep)
            if not targets:
                await self._wait_for_capacity(wait, end, last, method)
                continue
            timeout = min(remaining, pol.attempt_timeout_s)
            try:
                return await _first_ok(
                    {self._spawn(self._attempt(ep, method, body, decode, timeout, CallKind.SEND))
                     for ep in targets}
                )
            except RpcResponseError:
                raise
            except RpcError as err:
                last = err
            attempts += 1
            if attempts >= pol.max_attempts:
                raise last
            for ep in targets:
                self.metrics.retry(ep.name, method)
            delay = backoff_delay(attempts, pol.backoff_base_s, pol.backoff_max_s, self._rng)
            if delay >= end - self._clock():
                raise self._expired(method, last)
            await asyncio.sleep(delay)

    # ------------------------------------------------------------ health probes

    def _start_probes(self) -> None:
        if self._probe_task is None and self.probe_interval > 0:
            self._probe_task = asyncio.ensure_future(self._probe_loop())

    async def _probe_loop(self) -> None:
        body = orjson.dumps({"jsonrpc": "2.0", "id": 0, "method": "getSlot",
                             "params": [{"commitment": "confirmed"}]})
        timeout = 1.0
        while True:
            await asyncio.gather(*(self._probe(ep, body, timeout) for ep in self.endpoints),
                                 return_exceptions=True)
            await asyncio.sleep(self.probe_interval)

    async def _probe(self, ep: Endpoint, body: bytes, timeout: float) -> None:
        if ep.bucket.available() < 1 or not ep.health.breaker.acquire():
            return
        ep.bucket.try_acquire()

        def decode(raw: bytes) -> Any:
            return decode_single_reply(raw, 0, "getSlot")

        with contextlib.suppress(RpcError):
            slot = await self._attempt(ep, _PROBE, body, decode, timeout, CallKind.READ)
            if isinstance(slot, int):
                ep.health.observe_slot(slot, self.cluster_slot)


class _Stale(RpcNodeUnhealthy):
    """A reply whose context slot is too far behind the cluster (retried elsewhere)."""


def _reap(owner: set[asyncio.Task[Any]]) -> Callable[[asyncio.Task[Any]], None]:
    def done(task: asyncio.Task[Any]) -> None:
        owner.discard(task)
        if not task.cancelled():
            task.exception()  # mark retrieved: a hedge loser's error is already counted
    return done


async def _first_ok(tasks: set[asyncio.Task[T]]) -> T:
    """The first successful result of ``tasks`` (the others run on in the background); if all
    fail, the most telling error."""
    errors: list[BaseException] = []
    pending = tasks
    while pending:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        for t in done:
            exc = t.exception()
            if exc is None:
                return t.result()
            errors.append(exc)
    raise _pick_error(errors)


def _pick_error(errors: Sequence[BaseException]) -> BaseException:
    """The most telling error of several attempts: the node's answer beats transport trouble."""
    for e in errors:
        if isinstance(e, RpcResponseError):
            return e
    return errors[-1]


def decode_single_reply(raw: bytes, req_id: int, method: str) -> Any:
    """The result of a single JSON-RPC reply, or raise its typed error."""
    outcome = RpcClient._outcome(RpcClient._loads(raw, method), req_id, method)
    if isinstance(outcome, RpcError):
        raise outcome
    return outcome
