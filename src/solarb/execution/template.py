"""Compiled-message templates: a route shape's serialized v0 message, refilled per order.

Compiling a message (``MessageV0.try_compile``: account dedup, ordering, lookup-table indexes)
and building its instructions costs more than signing it. For one payer, the message of a route
depends on the amounts and the blockhash only through fixed-size spans: the blockhash's 32 bytes
and each swap instruction's data (the adapters' ``swap_data``, whose length a shape fixes). A
:class:`Template` keeps the serialized message of one shape (the exact bytes ``try_compile``
produced for its first order) cut around those spans; :meth:`Template.fill` joins the pieces with
a new order's blockhash and swap data. The caller keys templates by everything else the message
depends on (see :meth:`solarb.execution.builder.TxBuilder.build`).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

__all__ = ["Template", "TemplateCache", "message_spans"]

_V0_PREFIX = 0x80


def _shortvec(buf: bytes, pos: int) -> tuple[int, int]:
    """Decode a compact-u16 at ``pos``: ``(value, position after it)``."""
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def message_spans(message: bytes) -> tuple[int, list[tuple[int, int]]]:
    """For a versioned (v0) serialized message: the blockhash's offset and every instruction's
    data span ``(offset, length)``, in instruction order. Raises ``ValueError`` for a legacy
    message or bytes that are not exactly one message."""
    if not message or message[0] != _V0_PREFIX:
        raise ValueError("not a v0 message")
    try:
        n_keys, pos = _shortvec(message, 4)  # prefix, then the 3-byte header
        blockhash = pos + 32 * n_keys
        n_ix, pos = _shortvec(message, blockhash + 32)
        spans = []
        for _ in range(n_ix):
            # program id index, then the accounts (a count below 128 is one byte: inline)
            n = message[pos + 1]
            if n < 0x80:
                pos += 2 + n
            else:
                n, pos = _shortvec(message, pos + 1)
                pos += n
            n = message[pos]
            if n < 0x80:
                pos += 1
            else:
                n, pos = _shortvec(message, pos)
            spans.append((pos, n))
            pos += n
        n_lookups, pos = _shortvec(message, pos)
        for _ in range(n_lookups):
            n_writable, pos = _shortvec(message, pos + 32)  # table address, writable indexes
            n_readonly, pos = _shortvec(message, pos + n_writable)
            pos += n_readonly
    except IndexError:
        raise ValueError("truncated message") from None
    if pos != len(message):
        raise ValueError(f"message is {len(message)} bytes, its fields {pos}")
    return blockhash, spans


class Template:
    """One route shape's serialized message (``to_bytes_versioned`` bytes) cut around the spans
    that change per order: the blockhash and the data of the last ``n_swaps`` instructions."""

    __slots__ = ("_message", "_n_swaps", "segments", "sizes")

    def __init__(self, message: bytes, n_swaps: int) -> None:
        self._cut(message, n_swaps)

    @classmethod
    def deferred(cls, message: bytes, n_swaps: int) -> Template:
        """The template of ``message``, cut on its first :meth:`fill` (a shape compiled for one
        order may never be filled: its cut is not paid then). A ``message`` that is not a v0
        message of at least ``n_swaps`` instructions makes that :meth:`fill` raise
        ``ValueError``."""
        template = cls.__new__(cls)
        template._message, template._n_swaps = message, n_swaps
        template.segments = template.sizes = []
        return template

    def _cut(self, message: bytes, n_swaps: int) -> None:
        blockhash_at, spans = message_spans(message)
        if not 0 < n_swaps <= len(spans):
            raise ValueError(f"{n_swaps} swaps in a message of {len(spans)} instructions")
        spans = spans[-n_swaps:]
        self.sizes = [size for _at, size in spans]
        cuts = [blockhash_at, blockhash_at + 32]
        for at, size in spans:
            cuts += (at, at + size)
        cuts.append(len(message))
        # segments[0] before the blockhash, then what follows the blockhash and each data
        self.segments = [message[: cuts[0]]]
        self.segments += [message[cuts[k] : cuts[k + 1]] for k in range(1, len(cuts) - 1, 2)]
        self._message = b""  # held in the segments now

    def fill(self, blockhash: bytes, datas: Sequence[bytes]) -> bytes | None:
        """The message with ``blockhash`` and the swaps' ``datas`` written in; ``None`` when a
        data's length is not its span's (the template does not fit: the caller recompiles)."""
        segments = self.segments
        if not segments:  # deferred: cut now
            self._cut(self._message, self._n_swaps)
            segments = self.segments
        out = [segments[0], blockhash, segments[1]]
        for size, data, segment in zip(self.sizes, datas, segments[2:], strict=True):
            if len(data) != size:
                return None
            out += (data, segment)
        return b"".join(out)


class TemplateCache:
    """Templates by shape key, least recently used evicted beyond ``capacity``."""

    __slots__ = ("_items", "capacity", "hits", "misses")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self._items: dict[Hashable, Template] = {}
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable) -> Template | None:
        """The template of ``key`` (now the most recently used), or ``None`` (a miss)."""
        items = self._items
        template = items.pop(key, None)
        if template is None:
            self.misses += 1
            return None
        items[key] = template
        self.hits += 1
        return template

    def put(self, key: Hashable, template: Template) -> None:
        """Store ``template`` for ``key``, evicting the least recently used beyond capacity."""
        items = self._items
        items.pop(key, None)
        items[key] = template
        if len(items) > self.capacity:
            del items[next(iter(items))]

    def clear(self) -> None:
        """Forget every template (e.g. the lookup tables changed)."""
        self._items.clear()
