"""Compact storage for mostly-zero account data (tick arrays, bin arrays).

A Raydium CLMM or Orca tick array is ~10 KB of which a few hundred bytes are not zero (only
initialized ticks carry data); a Meteora bin array is zero outside the bins that hold liquidity.
The market keeps every watched account, so at 10,000 pools these arrays dominate its memory.
:func:`compact` stores such data as its non-zero runs (:class:`SparseBytes`), which compares,
hashes, measures and slices exactly like the ``bytes`` it came from, so what a quote reads is
unchanged.

Decoders that need the buffer protocol (``struct.unpack_from``, ``memoryview``) call
``bytes(data)`` first (the layout modules do); everything else the adapters do with account data
(``len``, truth value, ``data[i]``, ``data[a:b]``, ``==``, dict/lru keys) works on both.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from functools import lru_cache
from itertools import accumulate, compress, count
from operator import add, sub
from struct import Struct
from typing import Any, SupportsIndex, cast, overload

__all__ = ["COMPACT_MIN_LEN", "SparseBytes", "compact", "compact_update"]

COMPACT_MIN_LEN = 2048  # smaller accounts stay plain bytes (the saving would not pay)
_GAP = 32  # zero runs of at least this many bytes separate stored runs
_TRIM = 16  # a stored run starts with fewer zero bytes than this
_ZEROS = bytes(_GAP)
_LAYOUTS = 4096  # layouts kept by _layout (see there)
_LOOP_READS = 2  # bytes() of a layout copies its runs this many times before making its Structs


class SparseBytes:
    """An immutable byte string stored as its non-zero runs (zeros elsewhere): one ``bytes`` of
    the runs back to back plus one ``array`` of each run's start and offset and the length (4
    bytes per run below 64 KiB, else 8).

    Equal (and of equal hash) to the ``bytes`` it was built from; ``bytes(x)`` returns them.
    Indexing returns an ``int``, slicing returns ``bytes`` (steps other than 1 are supported by
    materializing). Build it with :func:`compact`.
    """

    # four slots (no int objects for the length and run count: the index holds them); the
    # index is shared by every version re-laid from this one. ``_hash`` is -1 (never a hash)
    # until first asked: hashing a 10 KB array costs ~2.5 us and most versions are never hashed
    # (the market compares them by layout and runs; only some decoders key caches by content)
    __slots__ = ("_chunks", "_hash", "_index", "_packers")

    def __init__(self, data: bytes, runs: list[tuple[int, bytes]]) -> None:
        n = len(data)
        self._hash = -1
        self._chunks = b"".join(chunk for _, chunk in runs)
        # starts of the runs, then their offsets in _chunks (one more: the end), then the length;
        # built from one list so the array is allocated at its exact size (extend over-allocates)
        self._index = array("H" if n <= 0xFFFF else "I",
                            [*(start for start, _ in runs),
                             *accumulate((len(chunk) for _, chunk in runs), initial=0), n])
        self._packers: _Layout | None = None  # made on first use, shared by its re-layouts

    @property
    def _len(self) -> int:
        """The length of the data (the index's last entry)."""
        return self._index[-1]

    @property
    def _runs(self) -> int:
        """The number of stored runs."""
        return (len(self._index) - 2) >> 1

    def runs(self) -> tuple[bytes, array[int]]:
        """The stored form, for readers that walk it without ``bytes()`` (a C kernel): the runs
        back to back, and the index: each run's start, then each run's offset in the first
        (one more: their end), then the length (typecode ``H`` or ``I``). Read-only."""
        return self._chunks, self._index

    def __len__(self) -> int:
        return self._index[-1]

    def __bool__(self) -> bool:
        return self._index[-1] > 0

    def __bytes__(self) -> bytes:
        layout = self._packers
        if layout is None:
            layout = self._packers = _layout(self._index.tobytes(), self._index.itemsize)
        split, place = layout.split, layout.place
        if split is None or place is None:
            # most layouts are read once or twice (a new version is read when its pool is
            # re-quoted); building the Structs costs ~3 such reads, so they wait for the third
            layout.reads += 1
            if layout.reads <= _LOOP_READS:
                return self._assemble()
            split = split or layout.make_split(self._index)
            place = place or layout.make_place(self._index)
        return place.pack(*split.unpack(self._chunks))

    def _assemble(self) -> bytes:
        """``bytes(self)`` without Structs: each run copied into one zeroed buffer (~0.4 us a
        run, against ~1.2 us a run to build the two Structs and ~0.03 us a run to use them)."""
        index, chunks = self._index, self._chunks
        buf = bytearray(index[-1])
        n = (len(index) - 2) >> 1
        for i in range(n):
            start, a, b = index[i], index[n + i], index[n + i + 1]
            buf[start : start + b - a] = chunks[a:b]
        return bytes(buf)

    def __hash__(self) -> int:
        h = self._hash
        if h == -1:  # not computed yet (see __slots__)
            h = self._hash = hash(bytes(self))
        return h

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SparseBytes):
            h, g = self._hash, other._hash
            if (h != g and h != -1 and g != -1) or self._index[-1] != other._index[-1]:
                return False
            if self._index == other._index:  # same layout (the usual case): compare the runs
                return self._chunks == other._chunks
            return bytes(self) == bytes(other)
        if isinstance(other, (bytes, bytearray, memoryview)):
            return len(other) == self._index[-1] and bytes(self) == other
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    @overload
    def __getitem__(self, index: SupportsIndex) -> int: ...

    @overload
    def __getitem__(self, index: slice) -> bytes: ...

    def __getitem__(self, index: SupportsIndex | slice) -> int | bytes:
        length = self._index[-1]
        if isinstance(index, slice):
            start, stop, step = index.indices(length)
            if step != 1:
                return bytes(self)[index]
            return self._range(start, stop)
        i = index.__index__()
        if i < 0:
            i += length
        if not 0 <= i < length:
            raise IndexError("index out of range")
        return self._range(i, i + 1)[0]

    def _range(self, start: int, stop: int) -> bytes:
        """``bytes(self)[start:stop]`` for ``0 <= start``, ``stop <= len`` (empty if reversed)."""
        if stop <= start:
            return b""
        buf = bytearray(stop - start)
        index, chunks = self._index, self._chunks
        n = (len(index) - 2) >> 1
        i = max(0, bisect_right(index, start, 0, n) - 1)
        while i < n:
            s = index[i]
            if s >= stop:
                break
            a = index[n + i]
            e = s + index[n + i + 1] - a
            if e > start:
                lo, hi = max(s, start), min(e, stop)
                buf[lo - start : hi - start] = chunks[a + lo - s : a + hi - s]
            i += 1
        return bytes(buf)

    def _relayout(self, data: bytes) -> SparseBytes | None:
        """``data`` (as long as this) stored with this object's runs, if every byte of it outside
        them is zero; otherwise None. A new version of an array mostly changes bytes inside the
        runs of the previous one, and this is much cheaper than :func:`compact`. Returns ``self``
        when ``data`` equals this object (same runs, zeros elsewhere)."""
        layout = self._packers
        if layout is None:
            layout = self._packers = _layout(self._index.tobytes(), self._index.itemsize)
        place = layout.place or layout.make_place(self._index)
        # the bytes at the runs (the gaps are pad bytes), then placed back between zero gaps:
        # equal to data exactly when its gaps are zero (two C calls and one memcmp)
        runs = place.unpack(data)
        if place.pack(*runs) != data:
            return None  # a non-zero byte outside the runs (so data differs from self, too)
        chunks = b"".join(runs)
        if chunks == self._chunks:
            return self
        new = SparseBytes.__new__(SparseBytes)
        new._index = self._index  # never mutated
        new._packers = layout
        new._chunks = chunks
        new._hash = -1  # computed when first asked
        return new

    def stored_bytes(self) -> int:
        """Bytes of account data actually held (the runs), for memory accounting."""
        return len(self._chunks)

    def __repr__(self) -> str:
        return f"SparseBytes(len={self._len}, runs={self._runs}, stored={len(self._chunks)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (compact, (bytes(self),))


class _Layout:
    """The two Structs of one layout (a :class:`SparseBytes` index, its length included), shared by every
    version stored with that layout: ``split`` cuts the stored runs apart, ``place`` puts them
    between zero gaps (and, unpacking, reads the runs of a new version at the gaps' pad bytes).
    Both run in C: ~2 us for a 70-run array, a loop ~30 us; but making them costs more (~230k
    and ~110k instructions for 70 runs, most of it making the format's ints), so ``bytes()``
    makes them only past :data:`_LOOP_READS` reads of the layout (``reads``), and a re-layout
    makes ``place`` on its first use."""

    __slots__ = ("place", "reads", "split")

    def __init__(self) -> None:
        self.split: Struct | None = None
        self.place: Struct | None = None
        self.reads = 0  # bytes() calls answered by copying runs (counted until the Structs exist)

    def make_split(self, index: array[int]) -> Struct:
        """Build (and keep) ``split``: each stored run's bytes, back to back."""
        n = (len(index) - 2) >> 1
        self.split = Struct(("<" + "%ds" * n) % tuple(_sizes(index.tolist(), n)))
        return self.split

    def make_place(self, index: array[int]) -> Struct:
        """Build (and keep) ``place``: gap (pad bytes), run, ..., run, gap."""
        n = (len(index) - 2) >> 1
        values = index.tolist()
        starts = values[:n]
        sizes = _sizes(values, n)
        ends = list(map(add, starts, sizes))
        ends.insert(0, 0)
        # gap, size, gap, size, ..., gap: the format made by one C call (f-strings run by run
        # cost ~1.6x the instructions)
        fields = [values[-1] - ends[-1]] * (2 * n + 1)
        fields[: 2 * n : 2] = map(sub, starts, ends)
        fields[1::2] = sizes
        self.place = Struct(("<" + "%dx%ds" * n + "%dx") % tuple(fields))
        return self.place


def _sizes(values: list[int], n: int) -> list[int]:
    """The run sizes of an index (as a list, see :meth:`SparseBytes.runs`) of ``n`` runs."""
    offsets = values[n : 2 * n + 1]
    return list(map(sub, offsets[1:], offsets[:-1]))


# every layout the arrays are stored with: 2,004 in a 10,000-pool bench replay (seed 7), where
# 256 entries missed 13.2k times (each miss rebuilds a Struct); most entries are also held by
# a stored array, so the bound costs little (bench rss_mb unchanged at 10,000 pools)
@lru_cache(maxsize=_LAYOUTS)
def _layout(index: bytes, itemsize: int) -> _Layout:
    """The one :class:`_Layout` of a layout (an index as bytes, its length included, and its
    entries' width): arrays that share a layout (pools created alike) share its Structs too."""
    del index, itemsize  # the key; the Structs are made from the object's own index
    return _Layout()


def compact(data: bytes, previous: object = None) -> bytes | SparseBytes:
    """``data`` as :class:`SparseBytes` when it is at least :data:`COMPACT_MIN_LEN` long and at
    most half of it would be stored; otherwise ``data`` itself. Equal to ``data`` either way.

    ``previous`` (the stored form of the account's last version, if any): when it is a
    :class:`SparseBytes` of the same length whose runs still hold every non-zero byte, its
    layout is reused (cheaper than finding the runs again)."""
    n = len(data)
    if n < COMPACT_MIN_LEN:
        return data
    if isinstance(previous, SparseBytes) and previous._index[-1] == n:
        relaid = previous._relayout(data)
        if relaid is not None:
            return relaid
    return _compact_new(data)


def compact_update(data: bytes, previous: object) -> tuple[bytes | SparseBytes, bool]:
    """A new version ``data`` of an account stored as ``previous`` (its last stored form, or
    None): ``(previous, True)`` if ``data`` equals it, else ``(compact(data, previous), False)``.

    One pass instead of compacting and then comparing: against a :class:`SparseBytes` of the
    same length the re-layout decides equality (a non-zero byte outside its runs means the data
    differs; otherwise the runs are compared); anything else is compared as bytes first, so
    unchanged data is never compacted again."""
    if isinstance(previous, SparseBytes):
        if previous._index[-1] == len(data):
            relaid = previous._relayout(data)
            if relaid is previous:
                return previous, True
            if relaid is not None:
                return relaid, False
        return _compact_new(data), False  # differs: other length, or non-zero outside the runs
    if previous is not None and previous == data:
        return cast(bytes, previous), True
    return compact(data), False


def _compact_new(data: bytes) -> bytes | SparseBytes:
    """:func:`compact` without a previous layout."""
    n = len(data)
    if n < COMPACT_MIN_LEN:
        return data
    parts = data.split(_ZEROS)
    if len(parts) * 2 < n // _GAP:  # fewer than half the blocks are zero: not worth it
        return data
    starts = map(add, accumulate(map(len, parts), initial=0), count(0, _GAP))
    # the split leaves what a zero stretch has beyond its whole gaps (up to _GAP - 1 zero bytes)
    # at the head of the next part: a run drops the whole _TRIM blocks of it (not each zero
    # byte: arrays of pools created alike keep one layout, so they share its Structs, which
    # the warm-up builds; trimming to the byte split them, moving ~200 Struct builds per 1,000
    # pools into the replay)
    runs: list[tuple[int, bytes]] = []
    for start, part in compress(zip(starts, parts, strict=False), parts):
        kept = len(part.lstrip(b"\0"))
        if kept:  # else zeros only: the end of the data, shorter than a gap
            cut = (len(part) - kept) & -_TRIM
            runs.append((start + cut, part[cut:]))
    if sum(len(c) for _, c in runs) * 2 > n:
        return data
    return SparseBytes(data, runs)
