"""The hot path's import footprint: ``solarb.runtime.bench`` (the replay: feed parsing, market,
strategy, risk, builder) loads no gRPC/protobuf, pydantic, SQLite, RPC senders or config, and
the whole ``solarb bench`` command (CLI included) loads neither pydantic nor httpx; the packages
still export every name lazily, node still offers Pipeline, and an RpcClient made from a URL
still gets its HTTP transport."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[2]
NOT_LOADED = ("grpc", "google", "pydantic", "sqlite3", "solarb.config", "solarb.monitor",
              "solarb.execution.confirm", "solarb.execution.senders", "solarb.execution.executor",
              "solarb.execution.setup", "solarb.execution.alt", "solarb.rpc.pool",
              "solarb.runtime.node", "solarb.feeds.geyser", "solarb.feeds.polling")


def _modules_after(code: str) -> list[str]:
    script = f"{code}\nimport sys, orjson\nsys.stdout.buffer.write(orjson.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          check=True, timeout=60)
    return list(orjson.loads(done.stdout))


def test_bench_replay_loads_no_unused_stack() -> None:
    loaded = _modules_after("import solarb.runtime.bench")
    assert "solarb.runtime.pipeline" in loaded and "solarb.feeds.pubsub" in loaded
    unused = [m for m in loaded if m.startswith(NOT_LOADED)]
    assert unused == []


def test_bench_command_loads_neither_pydantic_nor_httpx() -> None:
    done = subprocess.run(
        [sys.executable, "-c",
         ("import sys, orjson\n"
         "from solarb.cli import main\n"
         "code = main(['bench', '--json', '--pools', '8', '--updates', '5', '--idle-seconds', '0'])\n"
         "sys.stdout.buffer.write(b'\\n' + orjson.dumps([code, sorted(sys.modules)]))")],
        cwd=ROOT, capture_output=True, check=True, timeout=120)
    bench_line, modules_line = [line for line in done.stdout.splitlines() if line][-2:]
    code, loaded = orjson.loads(modules_line)
    assert code == 0 and orjson.loads(bench_line)["updates"] == 5
    assert "solarb.runtime.bench" in loaded and "solarb.rpc.client" in loaded
    heavy = [m for m in loaded if m.startswith(("pydantic", "httpx", "websockets", "solarb.config",
                                                "solarb.rpc.transport"))]
    assert heavy == []


def test_rpc_client_from_url_builds_its_http_transport() -> None:
    from solarb.rpc.client import RpcClient
    from solarb.rpc.transport import HttpTransport

    assert isinstance(RpcClient("http://127.0.0.1:1").transport, HttpTransport)


def test_packages_export_names_lazily() -> None:
    from solarb import execution, feeds, rpc
    from solarb.execution import senders
    from solarb.runtime.node import Pipeline
    from solarb.runtime.pipeline import Pipeline as Direct

    assert Pipeline is Direct
    for package in (execution, senders, feeds, rpc):
        for name in package.__all__:
            assert getattr(package, name) is not None, (package.__name__, name)
        assert set(package.__all__) <= set(dir(package))
    assert execution.Executor.__module__ == "solarb.execution.executor"
    try:
        execution.NoSuchName  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchName" in str(exc)
    else:
        raise AssertionError("unknown names must raise AttributeError")
