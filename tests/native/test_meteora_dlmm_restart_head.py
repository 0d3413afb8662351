"""``meteora_dlmm``: the kernel's ``restart_head`` (the header of a restarted walk when only the
pair's dynamic fields moved) equals its Python reference ``meteora_dlmm_walk.restart_head``, and
that reference equals a head packed anew (``kernel_header``) wherever it answers.

Cases: real walks of the bench workload's pairs; the dynamic fields moved at random; each of the
nine static fee fields, the fee side and the limit-order flag changed (None); values outside
their fields (None, not an exception); entries -1..69 and outside; short headers; the same fee
tuple object; bad argument types (TypeError).
"""

from __future__ import annotations

import random
import struct
from typing import Any

import pytest

from solarb.dex import meteora_dlmm as dl
from solarb.dex import meteora_dlmm_math as m
from solarb.dex import meteora_dlmm_walk as mw
from tests.native.test_meteora_dlmm import KERNEL, _bench_pools

pytestmark = pytest.mark.skipif(KERNEL is None, reason="kernel not built or SOLARB_NATIVE=0")


def _both(*args: Any) -> bytes | None:
    """The kernel's answer, checked equal to the Python reference's."""
    got = KERNEL.restart_head(*args)  # type: ignore[union-attr]
    assert got == mw.restart_head(*args), args[3:]
    return got  # type: ignore[no-any-return]


def _walks() -> list[tuple[mw.KernelWalk, tuple[int, ...], bool, bool]]:
    """Walks planned (two stretches when there are) for the bench pairs, both directions."""
    out = []
    for state, aux in _bench_pools(40)[1]:
        v = dl._view(state, aux.get(dl.bitmap_extension_address(state.address)))
        for swap_for_y in (True, False):
            on_input = dl.fee_on_input(state, swap_for_y)
            w = mw.KernelWalk(v.fee_args, state.active_id, swap_for_y, on_input, v.support_lo,
                              v.next_array, v.array_key)  # fmt: skip
            w.extend(aux, dl._records)
            if w.terminal == mw.KERNEL_EXTEND:
                w.extend(aux, dl._records)
            if w.indices:
                out.append((w, v.fee_args, on_input, v.support_lo))
    assert len(out) >= 8
    return out


def test_restart_head_matches_reference_and_a_head_packed_anew() -> None:
    rng = random.Random(3)
    answered = declined = 0
    for w, fee, on_input, support_lo in _walks():
        for _ in range(40):
            f = list(fee)
            f[9] = rng.choice((0, 1, rng.randrange(2**32), 2**32 - 1))  # va
            f[10] = rng.choice((0, rng.randrange(2**32)))  # vr
            f[11] = rng.randrange(-2**31, 2**31)  # index reference
            f[12] = rng.choice((0, -1, rng.randrange(-2**63, 2**63)))  # timestamp
            kind = rng.random()
            if kind < 0.15:
                i = rng.randrange(9)
                f[i] += rng.choice((-1, 1)) if f[i] > 0 else 1
            new = tuple(f)
            lower = w.indices[0] * m.MAX_BIN_PER_ARRAY
            entry = rng.choice((-1, 0, 69, rng.randrange(70)))
            active = lower + max(entry, 0)
            fi, sl = on_input, support_lo
            if 0.15 <= kind < 0.2:
                fi = not fi
            elif 0.2 <= kind < 0.25:
                sl = not sl
            got = _both(w.header, w.fee, new, active, entry, fi, sl)
            if got is None:
                declined += 1
                assert kind < 0.25
                continue
            answered += 1
            assert kind >= 0.25 or (kind < 0.15 and new[:9] == fee[:9])
            cold = bytearray(mw._kernel_head(new, active, w.swap_for_y, on_input, support_lo,
                                             w.terminal, len(w.indices)))  # fmt: skip
            cold += w.header[mw._KERNEL_HEAD_LEN:]
            if entry >= 0:
                struct.pack_into("<i", cold, mw._KERNEL_HEAD_LEN + 4, entry)
            assert got == bytes(cold)
    assert answered > 300 and declined > 30, (answered, declined)


def test_restart_head_edges() -> None:
    w, fee, on_input, support_lo = _walks()[0]
    h, active = w.header, w.indices[0] * m.MAX_BIN_PER_ARRAY
    assert _both(h, fee, fee, active, 5, on_input, support_lo) is not None  # fee is old_fee
    assert _both(h, fee, tuple(fee), active, -1, on_input, support_lo) is not None
    for bad in ((9, -1), (9, 2**32), (10, -1), (10, 2**32), (11, 2**31), (11, -2**31 - 1),
                (12, 2**63), (12, -2**63 - 1), (11, 2**80)):  # fmt: skip
        f = list(fee)
        f[bad[0]] = bad[1]
        assert _both(h, fee, tuple(f), active, 0, on_input, support_lo) is None, bad
    for a in (2**31, -2**31 - 1):
        assert _both(h, fee, fee, a, 0, on_input, support_lo) is None
    for entry in (-2, 70, 2**70):
        assert _both(h, fee, fee, active, entry, on_input, support_lo) is None
    assert _both(h[: mw._KERNEL_HEAD_LEN + 11], fee, fee, active, 0, on_input, support_lo) is None
    assert _both(h[: mw._KERNEL_HEAD_LEN], fee, fee, active, -1, on_input, support_lo) is not None
    assert _both(h[:59], fee, fee, active, -1, on_input, support_lo) is None
    for args in ((bytearray(h), fee, fee, active, 0, True, True), (h, list(fee), fee, active, 0,
                 True, True), (h, fee, fee[:12], active, 0, True, True), (h, fee, fee)):  # fmt: skip
        with pytest.raises(TypeError):
            KERNEL.restart_head(*args)  # type: ignore[union-attr]


def test_restarted_uses_the_kernel_head() -> None:
    """KernelWalk.restarted takes the kernel's restart_head when the kernel is built."""
    assert mw._restart_head is KERNEL.restart_head  # type: ignore[union-attr]
