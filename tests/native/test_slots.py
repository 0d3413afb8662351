"""The C slots maker (native/slots.c) against its reference, solarb.frozen.frozen_maker."""

from __future__ import annotations

import dataclasses
import gc
import random
import sys
import weakref

import pytest

from solarb import frozen
from solarb.dex.meteora_dlmm_layout import LbPair
from solarb.dex.orca_whirlpool_layout import RewardInfo, Whirlpool
from solarb.dex.raydium_clmm_layout import ClmmPool, TickState
from solarb.events import AccountUpdate
from solarb.native import slots

native = slots.kernel()
needs_kernel = pytest.mark.skipif(native is None, reason="_slots not built or SOLARB_NATIVE=0")

HOT_CLASSES = (AccountUpdate, LbPair, Whirlpool, RewardInfo, ClmmPool, TickState)


class _Referent:
    """A value that can be weakly referenced (to see the maker keeps exactly one reference)."""


def _fields(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


@needs_kernel
@pytest.mark.parametrize("cls", HOT_CLASSES, ids=lambda c: c.__name__)
def test_same_objects_as_reference(cls: type) -> None:
    """Differential: random values (ints of any size, bytes, None, tuples) give an object equal
    to the reference's, with the very same objects in every slot, the same hash and type."""
    make, ref = slots.frozen_maker(cls), frozen.frozen_maker(cls)
    assert make is not ref
    rng = random.Random(6)
    names = _fields(cls)
    for _ in range(200):
        values = [rng.choice((rng.getrandbits(130), -rng.getrandbits(8), bytes(rng.getrandbits(4)),
                              None, (rng.random(),), "x" * rng.getrandbits(3)))
                  for _ in names]
        a, b = make(*values), ref(*values)
        assert type(a) is cls and a == b and repr(a) == repr(b)
        assert all(getattr(a, n) is v for n, v in zip(names, values, strict=True))
        try:
            assert hash(a) == hash(b)
        except TypeError:  # a value that is not hashable: both refuse
            with pytest.raises(TypeError):
                hash(b)


@needs_kernel
def test_frozen_and_refcounts() -> None:
    """The made object is as frozen as the reference's; it holds one reference per stored value
    and drops them when freed; it is tracked by the collector (a cycle through it is freed)."""
    make = slots.frozen_maker(AccountUpdate)
    value = _Referent()
    before = sys.getrefcount(value)
    upd = make(value, 1, value, value, 2, 3)
    assert sys.getrefcount(value) == before + 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        upd.slot = 5  # type: ignore[misc]
    assert gc.is_tracked(upd)
    del upd
    assert sys.getrefcount(value) == before
    # a cycle through a slot is collected
    box: list[object] = []
    cyc = make(box, 1, b"", None, 0, 0)
    box.append(cyc)
    probe = _Referent()
    box.append(probe)
    alive = weakref.ref(probe)
    del cyc, box, probe
    gc.collect()
    assert alive() is None


@needs_kernel
def test_argument_errors_as_reference() -> None:
    """Wrong counts and keywords raise TypeError, as the reference's make does."""
    make, ref = slots.frozen_maker(AccountUpdate), frozen.frozen_maker(AccountUpdate)
    for args in ((), (1,) * 5, (1,) * 7):
        with pytest.raises(TypeError):
            ref(*args)
        with pytest.raises(TypeError):
            make(*args)
    with pytest.raises(TypeError):
        make(1, 2, 3, 4, 5, ts_recv_ns=6)


def test_refuses_what_reference_refuses() -> None:
    """Not a frozen slots dataclass: TypeError from the wrapper (the reference's check)."""

    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclasses.dataclass(slots=True)
    class NotFrozen:
        a: int

    for cls in (NoSlots, NotFrozen, int):
        with pytest.raises(TypeError):
            slots.frozen_maker(cls)


@needs_kernel
def test_kernel_checks_names() -> None:
    """The kernel itself refuses non-slots, read-only or repeated names and non-heap types."""
    assert native is not None

    @dataclasses.dataclass(slots=True, frozen=True)
    class Two:
        a: int
        b: int

    with pytest.raises(TypeError):
        native.maker(Two, ("a", "c"))
    with pytest.raises(TypeError):
        native.maker(Two, ("a", "a"))
    with pytest.raises(TypeError):
        native.maker(Two, ("a", "__init__"))
    with pytest.raises(TypeError):
        native.maker(int, ())
    with pytest.raises(TypeError):
        native.maker(Two, ["a", "b"])
    assert native.maker(Two, ("b", "a"))(1, 2) == Two(2, 1)  # order as named


def test_python_path_when_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    """SOLARB_NATIVE=0: the reference's own maker."""
    monkeypatch.setenv("SOLARB_NATIVE", "0")
    assert slots.kernel() is None
    make = slots.frozen_maker(AccountUpdate)
    assert make.__name__ == "make" and make(1, 2, 3, 4, 5, 6) == AccountUpdate(1, 2, 3, 4, 5, 6)
