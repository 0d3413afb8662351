"""Config: file + environment, validation messages, redaction, live opt-in."""

from pathlib import Path

import pytest

from solarb.config import load_settings, redacted
from solarb.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.toml"


def test_defaults_mean_embedded_cluster() -> None:
    s = load_settings(environ={})
    assert s.endpoints.embedded
    assert s.trading.live is False
    assert s.risk.min_profit > 0


def test_example_file_is_valid_and_equals_defaults() -> None:
    assert load_settings(EXAMPLE, environ={}) == load_settings(environ={})


def test_environment_overrides_file(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text("[risk]\nmin_profit = 5\n")
    assert load_settings(f, environ={}).risk.min_profit == 5
    assert load_settings(f, environ={"SOLARB_RISK__MIN_PROFIT": "9"}).risk.min_profit == 9


def test_environment_json_list() -> None:
    mint = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
    s = load_settings(environ={"SOLARB_TRADING__START_MINTS": f'["{mint}"]'})
    assert s.trading.start_mints == (mint,)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[risk]\nmin_profit = -1\n", "risk.min_profit"),
        ("[risk]\nmin_profti = 1\n", "risk.min_profti"),
        ("[trading]\nstart_mints = ['xyz']\n", "not a base58 public key"),
        ("[endpoints]\nrpc_url = 'ftp://x'\n", "endpoints.rpc_url"),
        ("[risk\n", "not valid TOML"),
        ("risk = 3\n", "risk"),
    ],
)
def test_invalid_file_names_the_key(tmp_path: Path, text: str, needle: str) -> None:
    f = tmp_path / "c.toml"
    f.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(f, environ={})
    assert needle in str(info.value)
    assert info.value.exit_code == 2


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings("/nonexistent/solarb.toml", environ={})


def test_remote_endpoint_requires_live_opt_in_and_pools() -> None:
    remote = {"endpoints": {"rpc_url": "https://rpc.example.com"}}
    with pytest.raises(ConfigError, match="trading.live"):
        load_settings(overrides=remote, environ={})
    local = {"endpoints": {"rpc_url": "http://127.0.0.1:8899"}}
    with pytest.raises(ConfigError, match="trading.pools"):
        load_settings(overrides=local, environ={})


def test_redaction_hides_api_keys() -> None:
    s = load_settings(
        overrides={
            "endpoints": {"rpc_url": "https://user:pw@rpc.example.com/v1/SECRETKEY?api-key=SECRET2"},
            "trading": {"live": True, "pools": ["58oQChx4yWmvKdwLLZzBi4ChoCc2fqCUWBkwMihLYQo2"]},
            "wallet": {"keypair_path": "/keys/id.json"},
        },
        environ={},
    )
    text = str(redacted(s))
    assert "SECRET" not in text and "pw" not in text
    assert "rpc.example.com" in text
    assert s.endpoints.websocket_url() == "wss://user:pw@rpc.example.com/v1/SECRETKEY?api-key=SECRET2"


def test_websocket_url_follows_validator_port_convention() -> None:
    s = load_settings(
        overrides={"endpoints": {"rpc_url": "http://127.0.0.1:8899"}, "trading": {"pools": ["58oQChx4yWmvKdwLLZzBi4ChoCc2fqCUWBkwMihLYQo2"]}},
        environ={},
    )
    assert s.endpoints.websocket_url() == "ws://127.0.0.1:8900"


POOL = "58oQChx4yWmvKdwLLZzBi4ChoCc2fqCUWBkwMihLYQo2"


def test_endpoint_pool_entries_validated_and_redacted() -> None:
    s = load_settings(
        overrides={
            "endpoints": {
                "rpc": [
                    {"url": "https://a.example.com/?api-key=SECRET", "weight": 3, "rps": 50, "role": "read"},
                    {"url": "http://127.0.0.1:8899", "role": "send"},
                ]
            },
            "trading": {"live": True, "pools": [POOL]},
            "wallet": {"keypair_path": "id.json"},
        },
        environ={},
    )
    assert not s.endpoints.embedded
    assert [e.role for e in s.endpoints.pool()] == ["read", "send"]
    assert "SECRET" not in str(redacted(s))


def test_remote_pool_entry_also_needs_live_opt_in() -> None:
    with pytest.raises(ConfigError, match="trading.live"):
        load_settings(
            overrides={
                "endpoints": {"rpc": [{"url": "http://127.0.0.1:8899"}, {"url": "https://x.example.com"}]},
                "trading": {"pools": [POOL]},
            },
            environ={},
        )


@pytest.mark.parametrize(
    ("entry", "needle"),
    [
        ({"url": "ftp://x"}, "endpoints.rpc.0.url"),
        ({"url": "http://127.0.0.1:1", "role": "write"}, "endpoints.rpc.0.role"),
        ({"url": "http://127.0.0.1:1", "weight": 0}, "endpoints.rpc.0.weight"),
    ],
)
def test_bad_pool_entry_names_the_key(entry: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.")):
        load_settings(overrides={"endpoints": {"rpc": [entry]}, "trading": {"pools": [POOL]}}, environ={})


def test_the_project_s_other_variables_are_not_settings() -> None:
    """``SOLARB_NATIVE=0`` (the README's pure-Python switch) and the build's and tests' variables
    share the prefix but are no settings; any other unknown ``SOLARB_*`` is still refused."""
    plain = load_settings(environ={})
    others = {"SOLARB_NATIVE": "0", "SOLARB_NATIVE_ONLY": "sizing", "SOLARB_SHARED_DATA": "/x"}
    assert load_settings(environ=others) == plain
    with pytest.raises(ConfigError, match="nativ"):
        load_settings(environ={"SOLARB_NATIVES": "0"})
