"""Meteora DLMM: the native exact-in kernel's plan (``solarb.native._meteora_dlmm``, layout in
``meteora_dlmm.c``).

:class:`KernelWalk` plans one direction of a swap a stretch (the rest of a bin array) at a time
and packs the kernel's header (:func:`kernel_header`): fee parameters, the stretches and how the
walk ends (the ``KERNEL_*`` codes). A walk is restarted for a later pair state over the same
bitmap (the header's dynamic fields written over by :func:`restart_head`, or its C twin) and
refreshed when a bin array it read is written. The swap math itself is
:mod:`solarb.dex.meteora_dlmm_math`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from solarb import native
from solarb.dex.meteora_dlmm_math import (
    MAX_BIN_ID,
    MAX_BIN_PER_ARRAY,
    MAX_FEE_RATE,
    MIN_BIN_ID,
    FeeParams,
)

__all__ = [
    "KERNEL_EXTEND",
    "KERNEL_FALLBACK",
    "KERNEL_FILLED",
    "KERNEL_NOT_LOADED",
    "KERNEL_NO_LIQUIDITY",
    "KERNEL_OUT_OF_BOUNDS",
    "KernelWalk",
    "kernel_header",
    "restart_head",
]

# kernel result / walk terminal codes (KERNEL_FALLBACK: the Python walk decides)
KERNEL_FILLED, KERNEL_NO_LIQUIDITY, KERNEL_OUT_OF_BOUNDS, KERNEL_NOT_LOADED = 0, 1, 2, 3
KERNEL_FALLBACK, KERNEL_EXTEND = 4, 5  # the Python walk decides / plan one more bin array
_KERNEL_HEADER = struct.Struct("<BBBBHHIiiIIIIHHHHqQ")
_KERNEL_ARRAY = struct.Struct("<iii")
_KERNEL_COUNT = struct.Struct("<I")  # the header's stretch count, at offset 8
_KERNEL_DYNAMIC = struct.Struct("<iiII")  # active_id, index_reference, va, vr at offset 12
_KERNEL_TS = struct.Struct("<q")  # last_update_timestamp at offset 44
_KERNEL_ENTRY = struct.Struct("<i")  # a stretch's entry position, at offset 4 of its triple
_KERNEL_HEAD_LEN = 60  # the header's fixed part; the first stretch's entry is at 64


def kernel_header(
    p: FeeParams, active_id: int, swap_for_y: bool, fee_on_input: bool, support_lo: bool,
    terminal: int, ranges: list[tuple[int, int, int]],
) -> bytes:
    """The kernel's per-direction header: fee parameters (base fee capped at
    :data:`MAX_FEE_RATE`, which leaves every ``min(base + var, MAX_FEE_RATE)`` unchanged), the
    walk's bin arrays as ``(lower bin id, first, last bin position)`` and how the walk ends."""
    fee = (p.bin_step, p.base_factor, p.base_fee_power_factor, p.variable_fee_control,
           p.max_volatility_accumulator, p.filter_period, p.decay_period, p.reduction_factor,
           p.protocol_share, p.volatility_accumulator, p.volatility_reference, p.index_reference,
           p.last_update_timestamp)  # fmt: skip
    head = _kernel_head(fee, active_id, swap_for_y, fee_on_input, support_lo, terminal, len(ranges))
    return head + b"".join([_KERNEL_ARRAY.pack(*r) for r in ranges])


def _kernel_head(
    fee: tuple[int, ...], active_id: int, swap_for_y: bool, fee_on_input: bool,
    support_lo: bool, terminal: int, count: int,
) -> bytes:  # fmt: skip
    """:func:`kernel_header`'s fixed part; ``fee``: the fields of :class:`FeeParams` in order
    (as ``meteora_dlmm_view.fee_args`` gives them), ``count``: the stretches that follow."""
    bin_step, base_factor, power, vfc, max_va, filt, decay, red, _share, va, vr, iref, ts = fee
    base = min(base_factor * bin_step * 10 * 10**power, MAX_FEE_RATE)
    return _KERNEL_HEADER.pack(
        swap_for_y, fee_on_input, support_lo, terminal, bin_step, 0, count, active_id, iref, va,
        vr, max_va, vfc, filt, decay, red, 0, ts, base,
    )  # fmt: skip


def restart_head(
    header: bytes, old_fee: tuple[int, ...], fee: tuple[int, ...], active_id: int, entry: int,
    fee_on_input: bool, support_lo: bool,
) -> bytes | None:  # fmt: skip
    """The header of :meth:`KernelWalk.restarted` when only the pair's dynamic fields moved:
    ``header`` with the active bin, index reference, volatility accumulator and reference and
    timestamp (``fee[11], fee[9], fee[10], fee[12]``) written over and, when ``entry >= 0``, the
    first stretch's entry. None (pack the head anew) when ``fee``'s first nine fields are not
    ``old_fee``'s, the header's fee side or limit-order flag differ, a value does not fit its
    field or there is no first stretch for the entry. The kernel's ``restart_head`` is the same
    function in C (tests compare them)."""
    if len(header) < _KERNEL_HEAD_LEN or header[1] != bool(fee_on_input) or (
        header[2] != bool(support_lo)
    ):
        return None
    if fee is not old_fee and fee[:9] != old_fee[:9]:
        return None
    if not -1 <= entry < MAX_BIN_PER_ARRAY or (
        entry >= 0 and len(header) < _KERNEL_HEAD_LEN + _KERNEL_ARRAY.size
    ):
        return None
    buf = bytearray(header)
    try:
        _KERNEL_DYNAMIC.pack_into(buf, 12, active_id, fee[11], fee[9], fee[10])
        _KERNEL_TS.pack_into(buf, 44, fee[12])
        if entry >= 0:
            _KERNEL_ENTRY.pack_into(buf, _KERNEL_HEAD_LEN + 4, entry)
    except struct.error:
        return None
    return bytes(buf)


_NATIVE = native.load("meteora_dlmm")
_restart_head: Callable[..., bytes | None] = (
    restart_head if _NATIVE is None else _NATIVE.restart_head
)


class KernelWalk:
    """One direction of a swap for the native kernel, planned a stretch at a time (a stretch is
    the rest of a bin array in the walk's direction; the kernel asks for the next with
    ``KERNEL_EXTEND``): the kernel header, each stretch's non-empty bins (records), the accounts
    they came from (those a run walked must still be the same objects: :meth:`stale`), the key
    whose absence ends the walk, the array index per stretch and ``spared``, a slot per number
    of stretches walked for the caller (``Quote.arrays``)."""

    MAX_STRETCHES = 32  # a longer walk ends in KERNEL_FALLBACK: the Python walk runs it

    __slots__ = ("active", "array_key", "datas", "fee", "head", "header", "indices", "keys",
                 "missing", "next_array", "origin", "ranges", "records", "spared", "swap_for_y",
                 "terminal")  # fmt: skip

    def __init__(
        self, fee: tuple[int, ...], active_id: int, swap_for_y: bool, fee_on_input: bool,
        support_lo: bool, next_array: Callable[[int, bool], int | None],
        array_key: Callable[[int], Hashable],
    ) -> None:  # fmt: skip
        """``fee``: the :class:`FeeParams` fields in order (``meteora_dlmm_view.fee_args``)."""
        self.swap_for_y, self.next_array, self.array_key = swap_for_y, next_array, array_key
        self.origin = self.active = active_id  # the start bin; the next stretch's start bin
        self.fee = fee  # what the head was packed from
        # the header without stretches; extend() sets its terminal and count and appends them
        # (None with ranges: both are the sealed header's parts, split off when extend needs them)
        self.head: bytearray | None = bytearray(
            _kernel_head(fee, active_id, swap_for_y, fee_on_input, support_lo, KERNEL_EXTEND, 0)
        )
        self.ranges: bytes | None = b""  # the stretches as the header lists them
        self.records: tuple[bytes, ...] = ()
        self.keys: list[Hashable] = []
        self.datas: list[Any] = []
        self.indices: list[int] = []  # bin array index per stretch
        self.spared: list[Any] = [None]
        self.missing: Hashable | None = None
        self.terminal = KERNEL_EXTEND
        self.header = b""

    def extend(
        self, aux: Mapping[Any, Any], records: Callable[[Any, Any], bytes | None]
    ) -> None:
        """Plan the next stretch (or how the walk ends) from the accounts ``aux``;
        ``records(key, data)`` gives an array's kernel records (of every bin), None when the
        data is no bin array."""
        self.terminal = self._step(aux, records)
        self._seal()

    def _parts(self) -> tuple[bytearray, bytes]:
        """``head`` and ``ranges``, split off the sealed header when a restart left them None."""
        head, ranges = self.head, self.ranges
        if head is None or ranges is None:
            header = self.header
            head = self.head = bytearray(header[:_KERNEL_HEAD_LEN])
            ranges = self.ranges = header[_KERNEL_HEAD_LEN:]
        return head, ranges

    def _seal(self) -> None:
        """``header``: the head with the terminal and stretch count, then the stretches."""
        head, ranges = self._parts()
        head[3] = self.terminal
        _KERNEL_COUNT.pack_into(head, 8, len(self.indices))
        self.header = bytes(head) + ranges

    def _copy(self) -> KernelWalk:
        """A walk with this one's fields and header (its lists copied; when this one is sealed,
        head and ranges left None: split off the header when the copy is sealed or extends)."""
        w = KernelWalk.__new__(KernelWalk)
        w.swap_for_y, w.next_array, w.array_key = self.swap_for_y, self.next_array, self.array_key
        w.origin, w.active, w.fee, w.header = self.origin, self.active, self.fee, self.header
        if self.header:  # sealed (extend seals each stretch): the header holds head and ranges
            w.head = w.ranges = None
        else:
            head, w.ranges = self._parts()
            w.head = head.copy()
        w.records, w.keys, w.datas = self.records, self.keys.copy(), self.datas.copy()
        w.indices, w.spared = self.indices.copy(), self.spared.copy()
        w.missing, w.terminal = self.missing, self.terminal
        return w

    def restarted(
        self, fee: tuple[int, ...], active_id: int, fee_on_input: bool, support_lo: bool,
        next_array: Callable[[int, bool], int | None], array_key: Callable[[int], Hashable],
        aux: Mapping[Any, Any], records: Callable[[Any, Any], bytes | None],
    ) -> KernelWalk | None:  # fmt: skip
        """This walk for a later state of the pair (the caller checks: the same bitmap and
        extension, so the same arrays in the same order) that starts from ``active_id`` in the
        same bin array: its stretches, accounts and spared slots with a new head and the first
        stretch entered at ``active_id``, as a new walk planned that far would have them; None
        when the start is in another array or the walk has no stretch (plan it anew).

        Also :meth:`refreshed` from ``aux`` when it is not :meth:`planned_from` it (one copy for
        both; None where :meth:`refreshed` gives None).
        When only the pair's dynamic fields moved (``fee``'s first nine fields, the fee side and
        limit-order support as in this walk's head), the header is this one's with the active
        bin, volatility, timestamp and first entry written over, not packed anew (the same
        bytes); the new walk's ``head`` and ``ranges`` are split off it when it extends."""
        indices = self.indices
        if not indices or active_id // MAX_BIN_PER_ARRAY != self.origin // MAX_BIN_PER_ARRAY:
            return None
        lower = indices[0] * MAX_BIN_PER_ARRAY  # _step's first stretch, from active_id
        entry = -1  # an empty gap before the first stretch: entered at its edge, as before
        if lower <= active_id < lower + MAX_BIN_PER_ARRAY:
            if not MIN_BIN_ID <= active_id <= MAX_BIN_ID:
                return None
            entry = active_id - lower
        # the same first array: the same stop (and every later stretch); a new entry
        header = self.header
        buf: bytes | bytearray | None = _restart_head(
            header, self.fee, fee, active_id, entry, fee_on_input, support_lo
        )
        if buf is None:  # a static fee field or the fee side moved: the head packed anew
            buf = bytearray(_kernel_head(fee, active_id, self.swap_for_y, fee_on_input,
                                         support_lo, self.terminal, len(indices)))  # fmt: skip
            buf += header[_KERNEL_HEAD_LEN:]
            if entry >= 0:
                _KERNEL_ENTRY.pack_into(buf, _KERNEL_HEAD_LEN + 4, entry)
        w = KernelWalk.__new__(KernelWalk)
        w.swap_for_y, w.next_array, w.array_key = self.swap_for_y, next_array, array_key
        w.origin, w.active, w.head, w.ranges, w.fee = active_id, self.active, None, None, fee
        w.records, w.keys, w.datas = self.records, self.keys.copy(), self.datas.copy()
        w.indices, w.spared = indices.copy(), self.spared.copy()
        w.missing, w.terminal = self.missing, self.terminal
        if not w._refresh(aux, records):
            return None
        if w.terminal != self.terminal:
            buf = bytearray(buf)
            buf[3] = w.terminal
        w.header = bytes(buf)  # the same object when it is bytes
        return w

    def refreshed(
        self, aux: Mapping[Any, Any], records: Callable[[Any, Any], bytes | None]
    ) -> KernelWalk | None:
        """This walk after writes to the bin arrays it read, for the same pair state: the
        stretches depend only on the state and bitmap, so a walk planned from ``aux`` as far has
        the same ones, each with the records of its array's current version (``records`` of the
        arrays that changed). A terminal an array may have decided (not loaded, now loaded; the
        Python walk's) is planned again on the next extend. None when an array of a stretch is
        gone or no bin array now (plan anew)."""
        w = self._copy()
        if not w._refresh(aux, records):
            return None
        if w.terminal == self.terminal:
            w.header = self.header  # the same head, count and stretches: the same bytes
        else:
            w._seal()
        return w

    def _refresh(
        self, aux: Mapping[Any, Any], records: Callable[[Any, Any], bytes | None]
    ) -> bool:
        """:meth:`refreshed` in place on a copy (not sealed) when it is not :meth:`planned_from`
        ``aux`` (else left as it is); False where :meth:`refreshed` gives None."""
        datas = self.datas
        recs: list[bytes] | None = None
        for i, key in enumerate(self.keys):
            data = aux.get(key)
            if data is datas[i]:
                continue
            rec = None if data is None else records(key, data)
            if rec is None:
                return False
            if recs is None:
                recs = list(self.records)
            recs[i], datas[i] = rec, data
        terminal = self.terminal
        if recs is not None:
            self.records = tuple(recs)
        elif terminal != KERNEL_NOT_LOADED or aux.get(self.missing) is None:
            return True  # planned from aux: as it is
        if terminal == KERNEL_FALLBACK or (
            terminal == KERNEL_NOT_LOADED and aux.get(self.missing) is not None
        ):
            self.terminal, self.missing = KERNEL_EXTEND, None
        return True

    def _step(self, aux: Mapping[Any, Any], records: Callable[[Any, Any], bytes | None]) -> int:
        """Append the next stretch from bin ``active``, moving as the Python walk does (an
        empty gap jumps to the next array's edge; a step past ``MIN_BIN_ID``/``MAX_BIN_ID``
        fails); the walk's terminal code after it."""
        if len(self.indices) >= self.MAX_STRETCHES:
            return KERNEL_FALLBACK
        active, swap_for_y = self.active, self.swap_for_y
        idx = self.next_array(active // MAX_BIN_PER_ARRAY, swap_for_y)
        if idx is None:
            return KERNEL_NO_LIQUIDITY
        lower = idx * MAX_BIN_PER_ARRAY
        upper = lower + MAX_BIN_PER_ARRAY - 1
        entry = active if lower <= active <= upper else (upper if swap_for_y else lower)
        if not MIN_BIN_ID <= entry <= MAX_BIN_ID:
            return KERNEL_FALLBACK
        ranges = self._parts()[1]
        far, step = (lower, -1) if swap_for_y else (upper, 1)
        stop = min(max(far, MIN_BIN_ID), MAX_BIN_ID)
        key = self.array_key(idx)
        data = aux.get(key)
        if data is None:
            self.missing = key
            return KERNEL_NOT_LOADED
        rec = records(key, data)
        if rec is None:
            return KERNEL_FALLBACK
        self.ranges = ranges + _KERNEL_ARRAY.pack(lower, entry - lower, stop - lower)
        self.indices.append(idx), self.spared.append(None)
        self.records += (rec,)
        self.keys.append(key), self.datas.append(data)
        if not MIN_BIN_ID <= stop + step <= MAX_BIN_ID:
            return KERNEL_OUT_OF_BOUNDS
        self.active = far + step
        return KERNEL_EXTEND

    def stale(self, aux: Mapping[Any, Any], walked: int, code: int) -> bool:
        """Whether ``aux`` differs from what a kernel run over ``walked`` stretches read."""
        keys, datas = self.keys, self.datas
        for i in range(walked):
            if aux.get(keys[i]) is not datas[i]:
                return True
        return code == KERNEL_NOT_LOADED and aux.get(self.missing) is not None

    def planned_from(self, aux: Mapping[Any, Any]) -> bool:
        """Whether every account the plan read (and the missing one, still absent) is the same
        in ``aux``: then each run over it is what a run planned from ``aux`` would be."""
        return not self.stale(aux, len(self.keys), self.terminal)
