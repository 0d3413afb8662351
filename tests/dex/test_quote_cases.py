"""quote_case / load_accounts_file over real dumps written in the `solana account --output json` shape."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from solders.pubkey import Pubkey

from solarb.dex import raydium_amm_v4 as v4
from solarb.dex.base import DecodeError, MissingAccount, QuoteError
from solarb.dex.quote_cases import load_accounts_file, parse_accounts, quote_case
from solarb.dex.spl_token import TOKEN_PROGRAM_ID, encode_token_account
from solarb.errors import UsageError
from tests.support.data import SHARED_DATA

DATA = SHARED_DATA / "accounts"
CPMM_POOL = Pubkey.from_string("2higKRf25Q9WMcYfgyK96AAuFVv5zucfDAFHHDuVETcq")
V4_POOL = Pubkey.from_string("58oQChx4yWmvKdwLLZzBi4ChoCc2fqCUWBkwMihLYQo2")


def _cli(pubkey: str, owner: str, data: bytes, lamports: int = 1) -> dict[str, Any]:
    return {"pubkey": pubkey, "account": {"lamports": lamports, "owner": owner, "executable": False,
            "rentEpoch": 18446744073709551615, "data": [base64.b64encode(data).decode(), "base64"]}}  # fmt: skip


def _cpmm_file(tmp_path: Path) -> Path:
    bundle = json.loads((DATA / "raydium_cpmm/wsol_pump_2higKRf2/cpmm_wsol_pump.json").read_text())
    items = [_cli(k, v["owner"], base64.b64decode(v["data"]), v["lamports"]) for k, v in bundle["accounts"].items()]
    path = tmp_path / "cpmm.json"
    path.write_text(json.dumps(items))
    return path


def test_cpmm_case_from_file(tmp_path: Path) -> None:
    accounts = load_accounts_file(_cpmm_file(tmp_path))
    assert len(accounts) == 11
    assert accounts[CPMM_POOL][0] == Pubkey.from_string("CPMMoo8L3F4NbTegBCKVNunggL7H1ZpdTHKxQB5qKP1C")
    assert quote_case(accounts, CPMM_POOL, 10**9, True) == {
        "pool": str(CPMM_POOL), "dex": "raydium_cpmm", "direction": "a_to_b",
        "amount_in": 10**9, "amount_out": 205_850_084_580, "fee": 2_500_000,
    }  # fmt: skip
    assert quote_case(accounts, CPMM_POOL, 10**9, False)["direction"] == "b_to_a"


def test_amm_v4_case_with_vaults(tmp_path: Path) -> None:
    raw = json.loads(next((DATA / "raydium_amm_v4").rglob("*.json")).read_text())
    state = v4.decode_pool(V4_POOL, base64.b64decode(raw["data"]))
    auth = v4.authority_address(state.nonce)
    items = [
        _cli(raw["pubkey"], raw["owner"], base64.b64decode(raw["data"])),
        _cli(str(state.vault_a), str(TOKEN_PROGRAM_ID), encode_token_account(state.mint_a, auth, 10**12 + state.need_take_pnl_coin)),
        _cli(str(state.vault_b), str(TOKEN_PROGRAM_ID), encode_token_account(state.mint_b, auth, 15 * 10**10 + state.need_take_pnl_pc)),
    ]
    path = tmp_path / "v4.json"
    path.write_text(json.dumps(items))
    out = quote_case(load_accounts_file(path), V4_POOL, 10**9, True)
    assert (out["dex"], out["amount_out"], out["fee"]) == ("raydium_amm_v4", 149_475_897, 2_500_000)
    without_vault = {k: v for k, v in load_accounts_file(path).items() if k != state.vault_b}
    with pytest.raises(MissingAccount):
        quote_case(without_vault, V4_POOL, 10**9, True)


def test_single_object_file() -> None:
    accounts = load_accounts_file(DATA / "raydium_cpmm/config/D4FPEruKEHrG5TenZ2mpDGEfu1iUvTiqBxvpU8HLBvC2.json")
    ((key, (owner, data)),) = accounts.items()
    assert str(key) == "D4FPEruKEHrG5TenZ2mpDGEfu1iUvTiqBxvpU8HLBvC2" and len(data) == 236
    assert str(owner) == "CPMMoo8L3F4NbTegBCKVNunggL7H1ZpdTHKxQB5qKP1C"


def test_errors_for_bad_pools(tmp_path: Path) -> None:
    accounts = load_accounts_file(_cpmm_file(tmp_path))
    with pytest.raises(MissingAccount):
        quote_case(accounts, Pubkey.default(), 1, True)
    config = Pubkey.from_string("D4FPEruKEHrG5TenZ2mpDGEfu1iUvTiqBxvpU8HLBvC2")
    with pytest.raises(DecodeError):
        quote_case(accounts, config, 1, True)  # owned by CPMM but not a pool
    vault = Pubkey.from_string("47KLLXNKUMuJBgis11NWmZ9iNPW2wHX2ZKQKUDCL3LA6")
    with pytest.raises(DecodeError):
        quote_case(accounts, vault, 1, True)  # owner is the token program: no DEX
    with pytest.raises(QuoteError):
        quote_case(accounts, CPMM_POOL, 0, True)


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        '{"pubkey": "x"}',
        '[{"pubkey": "11111111111111111111111111111111", "account": {"owner": "bad", "data": ["", "base64"]}}]',
        '[{"pubkey": "11111111111111111111111111111111", "account": {"owner": "11111111111111111111111111111111", "data": ["AA==", "base58"]}}]',
        '[{"pubkey": "11111111111111111111111111111111", "account": {"owner": "11111111111111111111111111111111", "data": ["@@@", "base64"]}}]',
        '[{"pubkey": "11111111111111111111111111111111", "account": {"owner": "11111111111111111111111111111111", "data": "AA=="}}]',
        "[1]",
    ],
)
def test_bad_files_are_usage_errors(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(UsageError) as err:
        load_accounts_file(path)
    assert str(path) in str(err.value)


def test_parse_accounts_in_memory(tmp_path: Path) -> None:
    doc = json.loads(_cpmm_file(tmp_path).read_text())
    assert parse_accounts(doc, source="case") == load_accounts_file(_cpmm_file(tmp_path))
    for bad in ([], None, [{"pubkey": 1}], "x"):
        with pytest.raises(UsageError, match="case"):
            parse_accounts(bad, source="case")


def test_missing_file_is_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        load_accounts_file(tmp_path / "nope.json")
