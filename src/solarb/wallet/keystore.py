"""Keypair files in the Solana CLI format: a JSON array of 64 integers (secret || public key).

Errors (all :class:`Fatal`: the engine cannot trade without its key)::

    WalletError (SolarbError, Fatal)
     ├── KeystoreMissing      no file at the path
     ├── KeystoreUnreadable   exists but cannot be read (permissions, a directory, I/O)
     ├── KeystoreInvalid      not a 64-integer JSON array, or the public half does not match
     └── KeystoreExists       refusing to overwrite an existing key file

No message, ``repr`` or chained exception ever carries key bytes: foreign exceptions raised while
the secret is in hand are suppressed (``from None``) and only their type name is kept.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from solders.keypair import Keypair

from solarb.errors import Fatal

_KEY_LEN = 64


class WalletError(Fatal):
    """A key file cannot be used. The message names the path, never the key."""


class KeystoreMissing(WalletError):
    """There is no key file at the given path."""


class KeystoreUnreadable(WalletError):
    """The key file exists but cannot be read."""


class KeystoreInvalid(WalletError):
    """The key file is not a valid Solana CLI keypair (64-integer JSON array)."""


class KeystoreExists(WalletError):
    """A key file already exists where a new one was to be written."""


def permissions_too_open(path: str | os.PathLike[str]) -> bool:
    """True when group or others may read/write the key file (the CLI should warn, like ssh)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IRWXG | stat.S_IRWXO))


def load_keypair(path: str | os.PathLike[str]) -> Keypair:
    """Load a keypair from a Solana CLI JSON key file.

    Raises :class:`KeystoreMissing`, :class:`KeystoreUnreadable` or :class:`KeystoreInvalid`.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="ascii")
    except FileNotFoundError:
        raise KeystoreMissing(f"key file not found: {p}") from None
    except (OSError, UnicodeDecodeError) as e:
        # OSError messages name the path only; decode errors could quote bytes, so drop the chain.
        raise KeystoreUnreadable(f"key file {p} cannot be read ({type(e).__name__})") from None
    try:
        values = json.loads(text)
    except ValueError:
        raise KeystoreInvalid(f"key file {p} is not valid JSON") from None
    if not isinstance(values, list) or len(values) != _KEY_LEN:
        n = len(values) if isinstance(values, list) else None
        what = f"an array of {n} values" if n is not None else f"a JSON {type(values).__name__}"
        raise KeystoreInvalid(f"key file {p} holds {what}, expected {_KEY_LEN} integers")
    if not all(type(v) is int and 0 <= v <= 255 for v in values):
        raise KeystoreInvalid(f"key file {p} holds values that are not bytes (0..255 integers)")
    try:
        return Keypair.from_bytes(bytes(values))
    except ValueError:
        raise KeystoreInvalid(f"key file {p}: public key does not match the secret key") from None


def generate_keypair_file(path: str | os.PathLike[str]) -> Keypair:
    """Create a new random keypair file (mode 0600, parent folders created); return the keypair.

    Raises :class:`KeystoreExists` if the file exists, :class:`KeystoreUnreadable` on I/O errors.
    """
    p = Path(path)
    keypair = Keypair()
    payload = json.dumps(list(bytes(keypair))).encode("ascii")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeystoreExists(f"refusing to overwrite existing key file {p}") from None
    except OSError as e:
        raise KeystoreUnreadable(f"cannot create key file {p} ({type(e).__name__})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise KeystoreUnreadable(f"cannot write key file {p} ({type(e).__name__})") from None
    return keypair
