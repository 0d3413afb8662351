"""`solarb quote`: exact quotes from account files, one case or a batch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from solders.pubkey import Pubkey

from solarb.dex.quote_cases import load_accounts_file, parse_accounts, quote_case
from solarb.errors import SolarbError, UsageError

_DIRECTIONS = {"a-to-b": True, "b-to-a": False}


def _pubkey(text: Any, what: str) -> Pubkey:
    if not isinstance(text, str):
        raise UsageError(f"{what} must be a base58 string")
    try:
        return Pubkey.from_string(text)
    except ValueError:
        raise UsageError(f"{what} {text!r} is not a base58 public key") from None


def _direction(text: Any) -> bool:
    if text not in _DIRECTIONS:
        raise UsageError(f"direction must be 'a-to-b' or 'b-to-a', not {text!r}")
    return _DIRECTIONS[text]


def quote_single(accounts_file: Path, pool: str, amount_in: int, direction: str) -> dict[str, Any]:
    """Quote one swap; raises a SolarbError on any bad input."""
    accounts = load_accounts_file(accounts_file)
    return quote_case(accounts, _pubkey(pool, "pool"), amount_in, _direction(direction))


def quote_batch(cases_file: Path) -> list[dict[str, Any]]:
    """Quote every case of a cases file in order; a case that fails gives ``{"error": ...}``."""
    try:
        cases = orjson.loads(cases_file.read_bytes())
    except FileNotFoundError:
        raise UsageError(f"cases file not found: {cases_file}") from None
    except OSError as e:
        raise UsageError(f"cannot read cases file {cases_file}: {e.strerror}") from None
    except orjson.JSONDecodeError as e:
        raise UsageError(f"cases file {cases_file} is not valid JSON: {e}") from None
    if not isinstance(cases, list):
        raise UsageError(f"cases file {cases_file} must hold a JSON array")
    results: list[dict[str, Any]] = []
    for case in cases:
        try:
            if not isinstance(case, dict):
                raise UsageError("a case must be a JSON object")
            raw = case.get("accounts")
            if isinstance(raw, str):
                accounts = load_accounts_file(cases_file.parent / raw)
            else:
                accounts = parse_accounts(raw, source="case accounts")
            amount_in = case.get("amount_in")
            if isinstance(amount_in, bool) or not isinstance(amount_in, int) or amount_in < 0:
                raise UsageError("amount_in must be a non-negative integer")
            results.append(
                quote_case(
                    accounts,
                    _pubkey(case.get("pool"), "pool"),
                    amount_in,
                    _direction(case.get("direction")),
                )
            )
        except SolarbError as e:
            results.append({"error": str(e)})
    return results
