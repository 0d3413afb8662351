"""The `solarb` command: exit codes and messages for good and bad input (in-process)."""

from pathlib import Path

import orjson
import pytest

from solarb.cli import main
from solarb.runtime.killswitch import stop_path


def test_config_check_prints_redacted_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check"]) == 0
    out = orjson.loads(capsys.readouterr().out)
    assert out["endpoints"]["rpc_url"] == ""
    assert out["risk"]["min_profit"] > 0


def test_config_check_invalid_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[risk]\nmax_notional = 'lots'\n")
    assert main(["config", "check", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "risk.max_notional" in err and "Traceback" not in err


def test_config_check_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", "--config", "/no/such/file.toml"]) == 2
    assert "not found" in capsys.readouterr().err


def test_stop_writes_kill_switch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "data"}"\n')
    assert main(["stop", "--config", str(cfg), "--reason", "drill"]) == 0
    assert stop_path(tmp_path / "data").read_text() == "drill"


def test_quote_requires_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quote", "--pool", "58oQChx4yWmvKdwLLZzBi4ChoCc2fqCUWBkwMihLYQo2"]) == 2
    assert "missing --accounts" in capsys.readouterr().err


def test_quote_missing_accounts_file(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "quote",
            "--accounts",
            "/no/such.json",
            "--pool",
            "58oQChx4yWmvKdwLLZzBi4ChoCc2fqCUWBkwMihLYQo2",
            "--amount-in",
            "1000",
            "--direction",
            "a-to-b",
        ]
    )
    assert code == 2
    assert "/no/such.json" in capsys.readouterr().err


def test_bad_cli_values_exit_2() -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", "--duration", "-3"])
    assert info.value.code == 2
