"""Fixtures of the RPC edge tests (servers live in rpc_loopback.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from tests.rpc.rpc_loopback import Handler, HttpServer, MakeHttpServer


@pytest.fixture
async def http_server() -> AsyncIterator[MakeHttpServer]:
    """Factory: ``server = await http_server(handler)``; stopped at test end."""
    servers: list[HttpServer] = []

    async def make(handler: Handler) -> HttpServer:
        srv = HttpServer(handler)
        await srv.start()
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        await srv.stop()
