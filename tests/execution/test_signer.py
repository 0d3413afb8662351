"""Signer: libsodium signatures equal solders' byte for byte; the secret key never shows."""

from __future__ import annotations

import pickle
import random

import pytest
from solders.keypair import Keypair
from solders.signature import Signature

from solarb.execution.signer import Signer


def test_signatures_equal_solders_and_verify() -> None:
    rng = random.Random(11)
    for i in range(40):
        keypair = Keypair.from_seed(rng.randbytes(32))
        signer = Signer(keypair)
        message = rng.randbytes(rng.choice((0, 1, 63, 64, 65, 700, 1232)) + i)
        signature = signer.sign(message)
        assert signature == bytes(keypair.sign_message(message))
        assert Signature.from_bytes(signature).verify(keypair.pubkey(), message)
        assert signer.pubkey == keypair.pubkey()


def test_secret_key_stays_out_of_repr_str_and_pickle() -> None:
    keypair = Keypair.from_seed(bytes(range(32)))
    signer = Signer(keypair)
    secret = bytes(keypair)
    for text in (repr(signer), str(signer), f"{signer}", f"{signer!r}"):
        assert text == f"Signer({keypair.pubkey()})"
        for leak in (str(keypair), secret.hex(), repr(secret[:32]), repr(secret)):
            assert leak not in text
    with pytest.raises(TypeError, match="not picklable"):
        pickle.dumps(signer)
    assert not hasattr(signer, "__dict__")  # only the slots: no stray copies of the key
