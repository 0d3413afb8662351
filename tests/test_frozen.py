"""``frozen_maker`` and ``fast_init``: fast construction of frozen slots dataclasses."""

from __future__ import annotations

import dataclasses
import pickle

import pytest
from solders.pubkey import Pubkey

from solarb.dex.base import Quote
from solarb.frozen import fast_init, frozen_maker


@dataclasses.dataclass(slots=True, frozen=True)
class _Plain:
    a: int
    b: str = "b"
    c: tuple[int, ...] = ()


_reference = [_Plain(1), _Plain(2, "x"), _Plain(3, c=(4,))]
_Fast = fast_init(_Plain)


def test_frozen_maker_builds_what_the_constructor_builds() -> None:
    make = frozen_maker(Quote)
    arrays = (Pubkey.new_unique(),)
    built = make(10, 9, 1, arrays)
    assert built == Quote(10, 9, 1, arrays) and built.arrays == arrays
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.amount_out = 8  # type: ignore[misc]
    with pytest.raises(TypeError):  # every field, no more, no fewer
        make(10, 9, 1)


def test_fast_init_keeps_signature_defaults_equality_and_immutability() -> None:
    built = [_Fast(1), _Fast(2, "x"), _Fast(3, c=(4,))]
    assert built == _reference and [hash(x) for x in built] == [hash(x) for x in _reference]
    assert repr(built[1]) == "_Plain(a=2, b='x', c=())"
    assert pickle.loads(pickle.dumps(built[2])) == built[2]
    with pytest.raises(dataclasses.FrozenInstanceError):
        built[0].a = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        _Fast()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        _Fast(1, "b", (), 4)  # type: ignore[call-arg]
    assert Quote(1, 2, 3) == Quote(1, 2, 3, ()) and Quote(1, 2, 3).arrays == ()  # hot classes use it


def test_fast_init_refuses_what_it_cannot_generate() -> None:
    @dataclasses.dataclass(slots=True, frozen=True)
    class WithFactory:
        a: list[int] = dataclasses.field(default_factory=list)

    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclasses.dataclass(slots=True, frozen=True)
    class PostInit:
        a: int

        def __post_init__(self) -> None:
            pass

    for cls in (WithFactory, NoSlots, PostInit):
        with pytest.raises(TypeError):
            fast_init(cls)
