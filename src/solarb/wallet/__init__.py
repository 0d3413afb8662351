"""The wallet: keypair files (keystore)."""

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

__all__ = [
    "KeystoreExists",
    "KeystoreInvalid",
    "KeystoreMissing",
    "KeystoreUnreadable",
    "WalletError",
    "generate_keypair_file",
    "load_keypair",
    "permissions_too_open",
]
