"""``frozen_maker``: the decoders' fast constructor for frozen slots dataclasses."""

from __future__ import annotations

import dataclasses

import pytest
from solders.pubkey import Pubkey

from solarb.dex.base import Quote
from solarb.frozen import frozen_maker


def test_frozen_maker_builds_what_the_constructor_builds() -> None:
    make = frozen_maker(Quote)
    arrays = (Pubkey.new_unique(),)
    built = make(10, 9, 1, arrays)
    assert built == Quote(10, 9, 1, arrays) and built.arrays == arrays
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.amount_out = 8  # type: ignore[misc]
    with pytest.raises(ValueError):  # every field, no more, no fewer
        make(10, 9, 1)
