"""Loopback servers for the RPC edge tests: a tiny HTTP/1.1 server and the recorded RPC examples.

The HTTP server is real (asyncio streams on 127.0.0.1, ephemeral port, keep-alive); each test
gives it a handler ``async (body: bytes) -> Reply``. Replies replay the examples recorded from the
official Solana RPC documentation in /work/shared/data/solana_rpc.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from tests.support.data import SHARED_DATA

DATA = SHARED_DATA / "solana_rpc"


def recorded(name: str) -> dict[str, Any]:
    """The recorded documentation example ``name`` (e.g. "http_getBalance")."""
    return json.loads((DATA / f"{name}.json").read_text())


_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58decode(text: str) -> bytes:
    """Plain base58 decode (to turn recorded base58 account data into bytes)."""
    n = 0
    for ch in text:
        n = n * 58 + _B58.index(ch)
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\x00" * (len(text) - len(text.lstrip("1"))) + body


@dataclass
class Reply:
    """What the loopback server answers: status, headers, body; or ``hang``/``drop`` faults."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # never answer (read timeout)
    drop: bool = False  # close the socket without answering


Handler = Callable[[bytes], Awaitable[Reply]]


class HttpServer:
    """Minimal keep-alive HTTP/1.1 server on 127.0.0.1 for JSON-RPC POSTs."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[bytes] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.url = ""

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/"

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                body = await reader.readexactly(length)
                self.requests.append(body)
                reply = await self.handler(body)
                if reply.hang:
                    await asyncio.sleep(3600)
                if reply.drop:
                    writer.transport.abort()
                    return
                headers = {"content-type": "application/json", **reply.headers}
                lines = [f"HTTP/1.1 {reply.status} X", f"content-length: {len(reply.body)}"]
                lines += [f"{k}: {v}" for k, v in headers.items()]
                writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + reply.body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.transport.abort()
            self._tasks.discard(task)


MakeHttpServer = Callable[[Handler], Awaitable[HttpServer]]
