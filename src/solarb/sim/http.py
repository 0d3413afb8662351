"""A lean HTTP/1.1 server connection (httptools parser, keep-alive, pipelining) for the sim's
JSON-RPC server and its fault-injecting front ends. Subclasses answer :meth:`on_request`."""

from __future__ import annotations

import asyncio

import httptools  # type: ignore[import-untyped]

__all__ = ["MAX_BODY", "REASONS", "HttpConnection"]

MAX_BODY = 10 * 1024 * 1024
REASONS = {200: b"OK", 400: b"Bad Request", 404: b"Not Found", 405: b"Method Not Allowed",
           413: b"Payload Too Large", 429: b"Too Many Requests", 500: b"Internal Server Error",
           502: b"Bad Gateway", 503: b"Service Unavailable"}


class HttpConnection(asyncio.Protocol):
    """One connection: parses requests in order and hands each complete one to
    :meth:`on_request`; registers itself in ``registry`` while open (for a server's stop)."""

    def __init__(self, registry: set[HttpConnection]) -> None:
        self._registry = registry
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._body: list[bytes] = []
        self._size = 0

    def on_request(self, method: bytes, path: bytes, body: bytes, keep_alive: bool) -> None:
        """Answer one request (with :meth:`reply`); ``path`` is the URL without its query."""
        raise NotImplementedError

    # asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._registry.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._registry.discard(self)
        self._transport = None

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade):
            self.reply(400, b"Bad Request", keep_alive=False)

    def pause_writing(self) -> None:  # the client does not read: stop reading its requests
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        if self._transport is not None:
            self._transport.resume_reading()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._url, self._body, self._size = b"", [], 0

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        # curl sends "Expect: 100-continue" for bodies over 1 KiB and waits for this interim reply
        if name.lower() == b"expect" and value.lower() == b"100-continue" and self._transport is not None:
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size <= MAX_BODY:
            self._body.append(body)

    def on_message_complete(self) -> None:
        keep_alive = bool(self._parser.should_keep_alive())
        if self._size > MAX_BODY:
            self.reply(413, b"Payload Too Large", keep_alive=False)
            return
        path = self._url.split(b"?", 1)[0]
        self.on_request(self._parser.get_method(), path, b"".join(self._body), keep_alive)

    def reply(self, status: int, body: bytes, *, keep_alive: bool,
              content_type: bytes | None = None, headers: dict[str, str] | None = None,
              cut: bool = False) -> None:
        """Write one response; ``cut`` writes the head and half the body, then resets."""
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if content_type is None:
            content_type = b"application/json" if status == 200 else b"text/plain"
        extra = b"".join(b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v in (headers or {}).items())
        head = b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n%s%s\r\n" % (
            status, REASONS.get(status, b"OK"), content_type, len(body), extra,
            b"" if keep_alive else b"connection: close\r\n")
        if cut:
            transport.write(head + body[: len(body) // 2])
            transport.abort()
            return
        transport.write(head + body)
        if not keep_alive:
            transport.close()

    def close(self) -> None:
        """Close the connection."""
        if self._transport is not None:
            self._transport.close()
