"""Keystore: Solana CLI key files, typed errors that never carry key material."""

from __future__ import annotations

import json
import os
import stat
import traceback
from pathlib import Path

import pytest
from solders.keypair import Keypair

from solarb.errors import Fatal
from solarb.wallet.keystore import (
    KeystoreExists,
    KeystoreInvalid,
    KeystoreMissing,
    KeystoreUnreadable,
    WalletError,
    generate_keypair_file,
    load_keypair,
    permissions_too_open,
)

SEED_KP = Keypair.from_seed(bytes(range(32)))
SECRET = list(bytes(SEED_KP))


def _leaks(err: BaseException) -> bool:
    """True if the key bytes show up anywhere a person could see them."""
    text = "".join(traceback.format_exception(err))
    forms = [json.dumps(SECRET), ", ".join(map(str, SECRET[:16])), str(SECRET[:16])[1:-1],
             bytes(SEED_KP)[:16].hex(), repr(bytes(SEED_KP)[:16])[2:-1]]
    return any(f in text for f in forms) or any(f in repr(err) for f in forms)


def write(path: Path, content: str, mode: int = 0o600) -> Path:
    path.write_text(content)
    path.chmod(mode)
    return path


def test_load_round_trip(tmp_path: Path) -> None:
    p = write(tmp_path / "id.json", json.dumps(SECRET))
    kp = load_keypair(p)
    assert kp.pubkey() == SEED_KP.pubkey()
    assert not permissions_too_open(p)


def test_generate_is_0600_loadable_and_never_overwrites(tmp_path: Path) -> None:
    p = tmp_path / "keys" / "sim.json"
    kp = generate_keypair_file(p)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    assert load_keypair(p).pubkey() == kp.pubkey()
    with pytest.raises(KeystoreExists):
        generate_keypair_file(p)
    assert load_keypair(p).pubkey() == kp.pubkey()


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KeystoreMissing, match="not found"):
        load_keypair(tmp_path / "nope.json")


def test_unreadable_directory(tmp_path: Path) -> None:
    with pytest.raises(KeystoreUnreadable):
        load_keypair(tmp_path)


@pytest.mark.parametrize(
    "content, match",
    [
        (json.dumps(SECRET[:63]), "array of 63 values, expected 64"),
        (json.dumps(SECRET + [1]), "array of 65 values"),
        (json.dumps(SECRET)[:-5], "not valid JSON"),
        (json.dumps({"secret": SECRET}), "JSON dict"),
        (json.dumps(SECRET[:63] + [256]), "not bytes"),
        (json.dumps(SECRET[:63] + ["7"]), "not bytes"),
        # secret of one key with the public half of another
        (json.dumps(SECRET[:32] + list(bytes(Keypair.from_seed(bytes(32)).pubkey()))),
         "does not match"),
    ],
)
def test_invalid_files_raise_without_leaking_key(tmp_path: Path, content: str, match: str) -> None:
    p = write(tmp_path / "bad.json", content)
    with pytest.raises(KeystoreInvalid, match=match) as info:
        load_keypair(p)
    assert isinstance(info.value, WalletError) and isinstance(info.value, Fatal)
    err = info.value
    assert err.__cause__ is None and (err.__context__ is None or err.__suppress_context__)
    assert not _leaks(info.value)


def test_non_ascii_garbage_is_unreadable_without_leak(tmp_path: Path) -> None:
    p = tmp_path / "bin.json"
    p.write_bytes(bytes(SEED_KP) + b"\xff")
    with pytest.raises(KeystoreUnreadable) as info:
        load_keypair(p)
    assert not _leaks(info.value)


def test_leak_detector_detects_a_leak() -> None:
    assert _leaks(ValueError(json.dumps(SECRET)))


def test_permissions_too_open(tmp_path: Path) -> None:
    p = write(tmp_path / "id.json", json.dumps(SECRET), mode=0o644)
    assert permissions_too_open(p)
    assert load_keypair(p).pubkey() == SEED_KP.pubkey()
