"""Markets for the strategy and market tests: pools from the program models' factories (real
layouts) loaded into a :class:`MarketState`, a CPMM pool to trade a concentrated-liquidity pool
against, and constant-product chains for the sizing tests."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from solders.pubkey import Pubkey

from solarb.dex.base import InsufficientLiquidity
from solarb.dex.registry import ADAPTERS
from solarb.dex.spl_token import SYSTEM_PROGRAM_ID, TOKEN_PROGRAM_ID, encode_mint
from solarb.events import AccountUpdate
from solarb.market.state import MarketState
from solarb.sim.accounts import Account
from solarb.sim.programs import raydium_cpmm as cpmm_model

MINT_A = Pubkey.from_bytes(bytes([3]) * 32)
MINT_B = Pubkey.from_bytes(bytes([200]) * 32)


def account_update(key: Pubkey, acc: Account | None, slot: int = 1) -> AccountUpdate:
    """``acc`` at ``slot``; ``None``: an empty system account (what ``node._load_market`` makes of
    a None from getMultipleAccounts)."""
    if acc is None:
        return AccountUpdate(key, slot, b"", SYSTEM_PROGRAM_ID, 0)
    return AccountUpdate(key, slot, acc.data, acc.owner, acc.lamports)


def add_cpmm_and_mints(accounts: dict[Pubkey, Account], premium_ppm: int) -> Pubkey:
    """Add to ``accounts`` a CPMM pool (0.05 % fee, 10^13 deep) pricing B ``premium_ppm``
    dearer than 1 and both (6-decimal) mints; the CPMM pool's address."""
    reserve = 10**13
    cpmm, cp_accounts = cpmm_model.create_pool(
        mint_a=MINT_A, mint_b=MINT_B, reserve_a=reserve,
        reserve_b=reserve * 1_000_000 // (1_000_000 + premium_ppm), decimals_a=6, decimals_b=6,
        trade_fee_rate=500,
    )  # fmt: skip
    accounts.update(cp_accounts)
    for mint in (MINT_A, MINT_B):
        accounts[mint] = Account(10**7, encode_mint(6, 10**18), TOKEN_PROGRAM_ID)
    return cpmm


def load_market(accounts: dict[Pubkey, Account], pools: Iterable[Pubkey]) -> MarketState:
    """A market of ``pools`` with every account they watch applied from ``accounts``."""
    pools = tuple(pools)
    market = MarketState(ADAPTERS)
    for pool in pools:
        market.add_pool(account_update(pool, accounts[pool]))
    for key in market.watched_accounts():
        if key not in pools:
            market.apply(account_update(key, accounts.get(key)))
    return market


def cp_out(x: int, r_in: int, r_out: int, fee_num: int, fee_den: int = 10_000) -> int:
    """One constant-product swap, fee ``ceil(x * fee_num / fee_den)`` taken from the input."""
    fee = (x * fee_num + fee_den - 1) // fee_den
    net = x - fee
    out = r_out * net // (r_in + net)
    if out >= r_out:
        raise InsufficientLiquidity("drained")
    return out


def cp_chain(pools: list[tuple[int, int]], fee_num: int = 0) -> Callable[[int], int]:
    """The output of the swaps through ``pools`` ``(reserve_in, reserve_out)`` in turn."""

    def out(x: int) -> int:
        for r_in, r_out in pools:
            x = cp_out(x, r_in, r_out, fee_num)
        return x

    return out
