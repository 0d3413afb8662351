"""Typed settings: a TOML file plus ``SOLARB_*`` environment overrides, validated once, frozen.

Precedence (highest first): environment (``SOLARB_SECTION__KEY``, e.g. ``SOLARB_RISK__MIN_PROFIT``),
the TOML file, the defaults below. With no file and no endpoints the engine runs on the embedded
local cluster. Invalid input raises :class:`solarb.errors.ConfigError` naming the key and the reason.
Secrets (endpoint URLs may carry API keys) are redacted by :func:`redacted`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from ipaddress import ip_address
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from solders.pubkey import Pubkey

from solarb.errors import ConfigError

WSOL = "So11111111111111111111111111111111111111112"
_FROZEN = ConfigDict(frozen=True, extra="forbid")


def _check_pubkey(value: str) -> str:
    try:
        Pubkey.from_string(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a base58 public key") from None
    return value


class ClusterSettings(BaseModel):
    """The embedded local cluster, used when no RPC endpoint is configured."""

    model_config = _FROZEN
    slot_ms: int = Field(400, ge=20, le=10_000, description="slot duration in milliseconds")
    seed: int = Field(0, ge=0, description="market generator seed (deterministic runs)")
    tokens: int = Field(6, ge=5, le=50, description="tokens created by the market generator")
    pools: int = Field(18, ge=16, le=2000, description="pools created by the market generator")
    competitors: int = Field(1, ge=0, le=16, description="competing searchers in the market")
    noise_per_slot: int = Field(6, ge=0, le=1000, description="noise swaps per slot")
    faults: Literal["none", "flaky-rpc", "chaos", "ws-drops"] | None = Field(
        None, description="fault profile: extra fault-injecting JSON-RPC endpoints "
        "(solarb.sim.faults) or PubSub faults (ws-drops, solarb.sim.ws_faults)"
    )


class RpcEndpoint(BaseModel):
    """One JSON-RPC endpoint of the pool (``[[endpoints.rpc]]``)."""

    model_config = _FROZEN
    url: str = Field(description="HTTP JSON-RPC URL (may hold an API key: redacted)")
    weight: float = Field(1.0, gt=0, le=1000, description="routing weight")
    rps: float = Field(0.0, ge=0, description="client-side requests/s limit; 0 = none")
    burst: float | None = Field(None, ge=1, description="token bucket size; default max(1, rps)")
    role: Literal["read", "send", "both"] = "both"

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if urlsplit(value).scheme not in ("http", "https"):
            raise ValueError(f"{value!r} is not an http(s):// URL")
        return value


class EndpointSettings(BaseModel):
    """Where the engine connects. Empty ``rpc_url`` means: start the embedded cluster."""

    model_config = _FROZEN
    rpc_url: str = Field("", description="HTTP JSON-RPC URL (may hold an API key: redacted)")
    ws_url: str = Field("", description="WebSocket PubSub URL; derived from rpc_url when empty")
    rpc: tuple[RpcEndpoint, ...] = Field((), description="more JSON-RPC endpoints, pooled with rpc_url")
    lag_slots: int = Field(20, ge=1, description="an endpoint this many slots behind is degraded")

    @field_validator("rpc_url", "ws_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in ("http", "https", "ws", "wss"):
            raise ValueError(f"{value!r} is not an http(s):// or ws(s):// URL")
        return value

    @property
    def embedded(self) -> bool:
        """True when the engine must start the embedded local cluster."""
        return not self.rpc_url and not self.rpc

    def pool(self) -> list[RpcEndpoint]:
        """Every configured JSON-RPC endpoint: ``rpc_url`` (weight 1, both roles) then ``rpc``."""
        return ([RpcEndpoint(url=self.rpc_url)] if self.rpc_url else []) + list(self.rpc)

    def websocket_url(self) -> str:
        """The PubSub URL: ``ws_url``, or rpc_url (else the first ``rpc`` endpoint) with ws scheme
        and port + 1 (validator convention)."""
        if self.ws_url:
            return self.ws_url
        parts = urlsplit(self.rpc_url or self.rpc[0].url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        netloc = parts.netloc
        if parts.port is not None:
            netloc = f"{parts.hostname}:{parts.port + 1}"
        query = f"?{parts.query}" if parts.query else ""
        return f"{scheme}://{netloc}{parts.path}{query}"


class WalletSettings(BaseModel):
    """The signing key. Empty path on the embedded cluster: a fresh key in the data directory."""

    model_config = _FROZEN
    keypair_path: str = Field("", description="Solana CLI keypair JSON file")


class TradingSettings(BaseModel):
    """What to trade and whether real transactions may leave for a non-local cluster."""

    model_config = _FROZEN
    live: bool = Field(False, description="explicit opt-in to send transactions to non-loopback endpoints")
    start_mints: tuple[str, ...] = Field((WSOL,), min_length=1, description="cycle start tokens")
    max_hops: int = Field(3, ge=2, le=3)
    wrap_lamports: int = Field(20_000_000_000, ge=0, description="SOL wrapped into wSOL at start")
    pools: tuple[str, ...] = Field((), description="pool addresses; empty = discover all (embedded only)")
    warm_up: bool = Field(
        True,
        description="bind every pool's quoters and lay out its freshness group at load, so the "
        "first update of a pool pays no first-touch work (about 6 KB more memory per pool)",
    )

    @field_validator("start_mints", "pools")
    @classmethod
    def _pubkeys(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_pubkey(v) for v in values)


class RiskSettings(BaseModel):
    """Per-trade limits in base units of the start token."""

    model_config = _FROZEN
    max_notional: int = Field(5_000_000_000, gt=0, description="max amount in per trade")
    min_profit: int = Field(20_000, ge=0, description="min gross profit per trade (covers fees)")
    max_in_flight: int = Field(1, ge=1, le=64)


class ExecutionSettings(BaseModel):
    """Transaction building, sending and confirming."""

    model_config = _FROZEN
    compute_unit_limit: int = Field(400_000, ge=1_000, le=1_400_000)
    priority_fee_micro_lamports: int = Field(1_000, ge=0)
    simulate: bool = Field(True, description="simulate before sending")
    confirm_timeout_s: float = Field(30.0, gt=0, le=300)
    use_lookup_tables: bool = Field(True, description="compile transactions against address lookup tables")
    lookup_tables: tuple[str, ...] = Field(
        (), description="existing lookup table addresses to use instead of creating one at start"
    )

    @field_validator("lookup_tables")
    @classmethod
    def _tables(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_pubkey(v) for v in values)


class FeedSettings(BaseModel):
    """Where account states come from and when they count as stale (``[feeds]``)."""

    model_config = _FROZEN
    source: Literal["pubsub", "geyser", "polling"] = Field("pubsub", description="account source")
    subscriptions_per_connection: int = Field(1000, ge=1, le=100_000,
                                              description="PubSub subscriptions per WebSocket")
    max_connections_per_endpoint: int = Field(16, ge=1, le=256)
    max_slot_lag: int = Field(8, ge=0, le=10_000,
                              description="never trade a pool whose state trails the cluster more")
    silence_timeout_s: float = Field(2.0, gt=0, le=60, description="silent socket/stream deadline")
    poll_interval_ms: int = Field(400, ge=10, le=60_000, description="polling source interval")
    extra_ws_urls: tuple[str, ...] = Field((), description="redundant PubSub endpoints (redacted)")
    geyser_url: str = Field("", description="Yellowstone gRPC endpoint, http(s)://host:port")

    @field_validator("geyser_url")
    @classmethod
    def _geyser_url(cls, value: str) -> str:
        if value and (urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).port):
            raise ValueError(f"{value!r} is not an http(s)://host:port URL")
        return value

    @field_validator("extra_ws_urls")
    @classmethod
    def _ws_urls(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            if urlsplit(value).scheme not in ("ws", "wss"):
                raise ValueError(f"{value!r} is not a ws(s):// URL")
        return values


class Settings(BaseModel):
    """All settings. Build with :func:`load_settings`."""

    model_config = _FROZEN
    data_dir: str = Field("var", description="journal, keys, kill-switch file")
    cluster: ClusterSettings = ClusterSettings()
    endpoints: EndpointSettings = EndpointSettings()
    wallet: WalletSettings = WalletSettings()
    trading: TradingSettings = TradingSettings()
    risk: RiskSettings = RiskSettings()
    execution: ExecutionSettings = ExecutionSettings()
    feeds: FeedSettings = FeedSettings()

    @model_validator(mode="after")
    def _live_opt_in(self) -> Settings:
        urls = [e.url for e in self.endpoints.pool()]
        if not self.endpoints.embedded and not all(_is_loopback(u) for u in urls):
            if not self.trading.live:
                raise ValueError(
                    "endpoints.rpc_url (or endpoints.rpc) is not a local address: set trading.live = true to trade "
                    "for real (explicit opt-in)"
                )
            if not self.wallet.keypair_path:
                raise ValueError("wallet.keypair_path is required for a non-local cluster")
        if not self.endpoints.embedded and not self.trading.pools:
            raise ValueError("trading.pools must list pool addresses when endpoints are configured")
        return self


    @property
    def data_path(self) -> Path:
        """The data directory as a Path."""
        return Path(self.data_dir)


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def _format_validation(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(config)"
        msg = e["msg"].removeprefix("Value error, ")
        lines.append(f"  {key}: {msg}")
    return "invalid configuration:\n" + "\n".join(lines)


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML config file; :class:`ConfigError` on a missing or malformed file."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read config file {path}: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {path} is not valid TOML: {e}") from None


def load_settings(
    path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Load, merge and validate settings once. ``overrides`` (from CLI flags) are nested dicts
    applied over the file; the environment applies over both."""
    data: dict[str, Any] = read_toml(Path(path)) if path else {}
    for section, values in (overrides or {}).items():
        if isinstance(values, Mapping):
            data.setdefault(section, {})
            if not isinstance(data[section], dict):
                raise ConfigError(f"invalid configuration:\n  {section}: must be a table")
            data[section].update(values)
        else:
            data[section] = values
    _merge_env(data, os.environ if environ is None else environ)
    try:
        return Settings(**data)
    except ValidationError as e:
        raise ConfigError(_format_validation(e)) from None


ENV_PREFIX = "SOLARB_"
NOT_SETTINGS = frozenset({"SOLARB_NATIVE", "SOLARB_NATIVE_ONLY", "SOLARB_SHARED_DATA"})
"""``SOLARB_*`` variables that are not settings: the C kernels' switch (:mod:`solarb.native`),
the build's kernel choice (setup.py) and the tests' data directory; never read as overrides."""


def _merge_env(data: dict[str, Any], environ: Mapping[str, str]) -> None:
    """Apply ``SOLARB_SECTION__KEY=value`` over ``data``. Values that parse as JSON lists or
    tables are taken as such (``SOLARB_TRADING__POOLS='["..."]'``); others stay strings for
    pydantic to convert."""
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name in NOT_SETTINGS:
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        value: Any = raw
        if raw[:1] in "[{":
            try:
                value = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise ConfigError(f"invalid configuration:\n  {name}: not valid JSON") from None
        node = data
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"invalid configuration:\n  {name}: {part} is not a table")
            node = child
        node[path[-1]] = value


_SECRET_KEYS = ("rpc_url", "ws_url")


def _redact_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    hidden = bool(parts.username or parts.password or parts.query or parts.path.strip("/"))
    return f"{parts.scheme}://{host}{port}" + ("/<redacted>" if hidden else "")


def redacted(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain data, with URL credentials, query strings and paths hidden."""
    out = settings.model_dump(mode="json")
    for key in _SECRET_KEYS:
        url = out["endpoints"].get(key) or ""
        if url:
            out["endpoints"][key] = _redact_url(url)
    for entry in out["endpoints"].get("rpc") or []:
        entry["url"] = _redact_url(entry["url"])
    feeds = out["feeds"]
    feeds["extra_ws_urls"] = [_redact_url(u) for u in feeds["extra_ws_urls"]]
    if feeds["geyser_url"]:
        feeds["geyser_url"] = _redact_url(feeds["geyser_url"])
    return out
