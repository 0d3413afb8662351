"""The `solarb` command: exit codes and messages for good and bad input (in-process)."""

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from solarb.cli import main, tune_allocator
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


_MMAPPED_AFTER_A_LARGE_FREE = """
import ctypes, sys
from solarb.cli import tune_allocator
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                                "usmblks", "fsmblks", "uordblks", "fordblks",
                                                "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
tuned = tune_allocator({}) if sys.argv[1] == "tune" else None
big = bytearray(4 << 20)  # mmapped, then freed: glibc would raise its threshold to 4 MiB
del big
before = libc.mallinfo2().hblkhd
block = bytearray(512 << 10)
print(tuned, libc.mallinfo2().hblkhd - before >= 512 << 10)
"""


@pytest.mark.skipif(not hasattr(os, "confstr") or not os.confstr("CS_GNU_LIBC_VERSION"),
                    reason="glibc only")
def test_engine_commands_keep_large_blocks_mmapped_after_a_large_free() -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    runs = [subprocess.run([sys.executable, "-c", _MMAPPED_AFTER_A_LARGE_FREE, mode], env=env,
                           capture_output=True, text=True, check=True, timeout=60).stdout.split()
            for mode in ("tune", "default")]
    assert runs == [["True", "True"], ["None", "False"]]  # default: the 512 KiB block is heap
    assert tune_allocator({"MALLOC_ARENA_MAX": "2"}) is False  # the user's tuning wins
    assert tune_allocator({"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=65536"}) is False
