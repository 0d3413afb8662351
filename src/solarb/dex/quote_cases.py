"""One quote from a set of raw accounts: the engine behind ``solarb quote``.

``load_accounts_file`` reads the ``solana account --output json`` shape (a JSON array of them, or a
single one); ``quote_case`` finds the pool's adapter by its owner program, decodes the pool and
quotes with whatever auxiliary accounts (vaults, config, mints, Clock) the mapping holds. Pools
whose adapter declares ``TOKEN_PROGRAMS_FROM_MINTS`` (Whirlpool, Raydium CLMM) are decoded with their
mints' owners from the file as token programs when the mints are in it.

Errors: :class:`UsageError` for unreadable files; :class:`DecodeError`, :class:`QuoteError`
(incl. :class:`MissingAccount`) from the adapters.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from solders.pubkey import Pubkey

from solarb.dex.base import MissingAccount
from solarb.dex.registry import adapter_for
from solarb.dex.spl_token import TOKEN_PROGRAMS
from solarb.errors import UsageError

__all__ = ["load_accounts_file", "parse_accounts", "quote_case"]

Accounts = Mapping[Pubkey, tuple[Pubkey, bytes]]


def quote_case(accounts: Accounts, pool: Pubkey, amount_in: int, a_to_b: bool) -> dict[str, Any]:
    """Quote ``amount_in`` through ``pool``; ``accounts`` maps pubkey -> (owner, data).

    Returns ``{"pool", "dex", "direction", "amount_in", "amount_out", "fee"}`` (pubkey as base58,
    direction ``"a_to_b"``/``"b_to_a"``, integer amounts in base units). Raises
    :class:`MissingAccount` if the pool is absent, :class:`DecodeError` for an unsupported owner
    or bad bytes, :class:`QuoteError` where the program would fail."""
    entry = accounts.get(pool)
    if entry is None:
        raise MissingAccount(f"pool {pool} is not among the loaded accounts")
    owner, data = entry
    adapter = adapter_for(owner)
    state = adapter.decode_pool(pool, data)
    if getattr(adapter, "TOKEN_PROGRAMS_FROM_MINTS", False):
        programs = {}
        for side, mint in (("token_program_a", state.mint_a), ("token_program_b", state.mint_b)):
            mint_owner = accounts.get(mint, (None, b""))[0]
            if mint_owner in TOKEN_PROGRAMS:
                programs[side] = mint_owner
        if programs:
            state = adapter.decode_pool(pool, data, **programs)  # type: ignore[call-arg]
    aux = {key: acc_data for key, (_owner, acc_data) in accounts.items() if key != pool}
    q = adapter.quote(state, aux, amount_in, a_to_b)
    return {
        "pool": str(pool),
        "dex": adapter.NAME,
        "direction": "a_to_b" if a_to_b else "b_to_a",
        "amount_in": q.amount_in,
        "amount_out": q.amount_out,
        "fee": q.fee,
    }


def _entry(item: Any, where: str) -> tuple[Pubkey, Pubkey, bytes]:
    if not isinstance(item, dict) or "pubkey" not in item or not isinstance(item.get("account"), dict):
        raise UsageError(
            f"{where}: expected {{'pubkey', 'account': {{...}}}} (solana account --output json)"
        )
    acc = item["account"]
    try:
        key = Pubkey.from_string(item["pubkey"])
        owner = Pubkey.from_string(acc["owner"])
        blob, encoding = acc["data"]
        if encoding != "base64":
            raise UsageError(f"{where}: data encoding {encoding!r}, expected 'base64'")
        data = base64.b64decode(blob, validate=True)
    except UsageError:
        raise
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise UsageError(f"{where}: malformed account entry ({exc})") from exc
    return key, owner, data


def load_accounts_file(path: str | Path) -> dict[Pubkey, tuple[Pubkey, bytes]]:
    """Parse a ``solana account --output json`` file (a JSON array of accounts, or one account)
    into ``{pubkey: (owner, data)}``. Raises :class:`UsageError` with the reason on any bad file."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UsageError(f"accounts file {p} does not exist") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read accounts file {p}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise UsageError(f"accounts file {p} is not JSON: {exc}") from exc
    return parse_accounts(doc, source=f"accounts file {p}")


def parse_accounts(doc: Any, *, source: str) -> dict[Pubkey, tuple[Pubkey, bytes]]:
    """Parse already-loaded JSON in the ``solana account --output json`` shape (a list of
    accounts, or one account) into ``{pubkey: (owner, data)}``. ``source`` names the input in
    error messages. Raises :class:`UsageError` on any malformed entry or an empty list."""
    items = doc if isinstance(doc, list) else [doc]
    if not items:
        raise UsageError(f"{source} holds no accounts")
    out: dict[Pubkey, tuple[Pubkey, bytes]] = {}
    for i, item in enumerate(items):
        key, owner, data = _entry(item, f"{source} [{i}]")
        out[key] = (owner, data)
    return out
