"""The market generator: tokens, DEX pools and order flow for the local cluster.

:class:`MarketGenerator` creates mints (the native wSOL mint, USDC and seeded extra tokens with
realistic decimals), pools of five kinds: constant product (Raydium AMM v4, Raydium CPMM) and
concentrated liquidity (Orca Whirlpool, Raydium CLMM, Meteora DLMM; positions and bins around the
reference price, see :mod:`solarb.sim.market_cl`), several pools of different kinds per pair,
every token paired with SOL and USDC so 2-hop and triangular (and mixed CP/CL) cycles exist, and
funded noise traders. Pool ``i`` is of kind ``KINDS[i % 5]`` on pair ``i % n_pairs``, so with 16
pools 9 are concentrated.

Each :meth:`MarketGenerator.step` moves a per-token reference price by a small random walk and
sends ``noise_per_slot`` swaps as real signed transactions through ``bank.process_transaction``:
random pool, lognormal size, direction biased towards the reference price. Pools therefore drift
apart from each other and from the reference, and finite arbitrage keeps appearing. Optional
competing searchers take the best two-pool cycles first (real transactions too).

Everything is deterministic given ``seed``: one ``random.Random(seed)``, keypairs derived from the
seed. Reference prices and the random walk are floats (generation only); amounts sent are ints.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from solarb.dex import meteora_dlmm, orca_whirlpool, raydium_amm_v4, raydium_clmm, raydium_cpmm
from solarb.dex.base import DexError
from solarb.dex.spl_token import (
    SYSTEM_PROGRAM_ID,
    TOKEN_PROGRAM_ID,
    WSOL_MINT,
    associated_token_address,
    decode_token_account,
    encode_mint,
    encode_token_account,
)
from solarb.errors import UsageError
from solarb.sim.accounts import Account, rent_exempt_minimum
from solarb.sim.market_cl import CL_KINDS, create_cl_pool
from solarb.sim.programs import raydium_amm_v4 as amm_v4_model
from solarb.sim.programs import raydium_cpmm as cpmm_model
from solarb.sim.tx_errors import TransactionFailed

__all__ = [
    "DEX_MODULES", "KINDS", "USDC_MINT", "MarketGenerator", "PoolInfo", "TokenInfo", "TwoHop",
]

USDC_MINT = Pubkey.from_string("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v")
DEX_MODULES: dict[str, ModuleType] = {
    m.NAME: m for m in (raydium_amm_v4, raydium_cpmm, orca_whirlpool, raydium_clmm, meteora_dlmm)
}
KINDS = (raydium_amm_v4.NAME, raydium_cpmm.NAME, orca_whirlpool.NAME, raydium_clmm.NAME,
         meteora_dlmm.NAME)  # fmt: skip
"""Pool kinds in creation order: pool ``i`` is ``KINDS[i % len(KINDS)]``."""

# symbol, decimals, reference price in USD (jittered by the seed)
_EXTRA_TOKENS = (
    ("JUP", 6, 0.85), ("RAY", 6, 2.4), ("BONK", 5, 0.000022), ("WIF", 6, 1.9), ("JTO", 9, 2.8),
    ("PYTH", 6, 0.35), ("ORCA", 6, 3.1), ("MEW", 5, 0.006), ("POPCAT", 9, 0.9), ("HNT", 8, 5.2),
)
_TOKEN_ACCOUNT_RENT = rent_exempt_minimum(165)
_LAMPORTS_PER_SOL = 1_000_000_000
_CPMM_FEE_RATES = (2500, 3000, 1000, 10000)  # parts per million, as Raydium's AmmConfig tiers
_AMM_V4_FEE = (25, 10_000)


@dataclass(slots=True, frozen=True)
class TokenInfo:
    """A token of the generated market. ``price_usd`` is the initial reference price (display)."""

    symbol: str
    mint: Pubkey
    decimals: int
    token_program: Pubkey
    price_usd: float


@dataclass(slots=True, frozen=True)
class PoolInfo:
    """A generated pool: its address, DEX name (one of :data:`KINDS`) and mints in the pool's own
    a/b order."""

    address: Pubkey
    dex: str
    mint_a: Pubkey
    mint_b: Pubkey


@dataclass(slots=True, frozen=True)
class TwoHop:
    """A two-pool cycle: ``amount_in`` of ``mint_in`` through ``first`` then ``second`` returns
    ``amount_out`` of ``mint_in`` (exact quote math); ``profit = amount_out - amount_in``."""

    first: PoolInfo
    second: PoolInfo
    mint_in: Pubkey
    mint_mid: Pubkey
    amount_in: int
    amount_mid: int
    amount_out: int

    @property
    def profit(self) -> int:
        """Base units of ``mint_in`` gained."""
        return self.amount_out - self.amount_in


def _keypair(seed: int, label: str) -> Keypair:
    return Keypair.from_seed(hashlib.sha256(f"solarb-sim:{seed}:{label}".encode()).digest())


class MarketGenerator:
    """Creates the market in ``bank`` at construction and moves it with :meth:`step`.

    ``n_tokens`` >= 5 (SOL, USDC + extras), ``n_pools`` >= 16 spread over the five DEXes;
    ``noise_per_slot`` swaps per step; ``competitors`` searchers, each taking at most one cycle
    per step (profit above ``competitor_min_profit_usd``) with probability ``competitor_prob``.
    Raises :class:`UsageError` for parameters out of range."""

    def __init__(
        self,
        bank: Any,
        *,
        seed: int = 0,
        n_tokens: int = 5,
        n_pools: int = 16,
        competitors: int = 0,
        noise_per_slot: int = 4,
        noise_traders: int = 8,
        trade_size: float = 0.0015,
        trade_sigma: float = 1.0,
        price_volatility: float = 0.0005,
        mean_reversion: float = 10.0,
        competitor_prob: float = 0.5,
        competitor_min_profit_usd: float = 0.5,
    ) -> None:
        if not 5 <= n_tokens <= 2 + len(_EXTRA_TOKENS):
            raise UsageError(f"n_tokens must be in [5, {2 + len(_EXTRA_TOKENS)}], got {n_tokens}")
        if n_pools < 16:
            raise UsageError(f"n_pools must be >= 16, got {n_pools}")
        if competitors < 0 or noise_per_slot < 0 or noise_traders < 1:
            raise UsageError("competitors and noise_per_slot must be >= 0, noise_traders >= 1")
        self.bank = bank
        self.seed = seed
        self.rng = random.Random(seed)
        self.noise_per_slot = noise_per_slot
        self.trade_size = trade_size
        self.trade_sigma = trade_sigma
        self.price_volatility = price_volatility
        self.mean_reversion = mean_reversion
        self.competitor_prob = competitor_prob
        self.competitor_min_profit_usd = competitor_min_profit_usd
        self.stats = {"noise_ok": 0, "noise_failed": 0, "competitor_ok": 0, "competitor_failed": 0}
        self._tokens = self._create_tokens(n_tokens)
        self._by_mint = {t.mint: t for t in self._tokens}
        self._log_price = {t.mint: math.log(t.price_usd) for t in self._tokens}
        self._supply: dict[Pubkey, int] = {t.mint: 0 for t in self._tokens}
        self._pools = self._create_pools(n_pools)
        self.traders = [_keypair(seed, f"noise-{i}") for i in range(noise_traders)]
        self.competitors = [_keypair(seed, f"competitor-{i}") for i in range(competitors)]
        for kp in self.traders + self.competitors:
            self._fund_everything(kp.pubkey())
        self._write_mints()

    # ---------------------------------------------------------------- public surface
    @property
    def tokens(self) -> list[TokenInfo]:
        """The market's tokens: SOL (native mint), USDC, then the seeded extras."""
        return list(self._tokens)

    @property
    def pools(self) -> list[PoolInfo]:
        """Every generated pool."""
        return list(self._pools)

    def token(self, symbol: str) -> TokenInfo:
        """The token with ``symbol``; KeyError if absent."""
        for t in self._tokens:
            if t.symbol == symbol:
                return t
        raise KeyError(symbol)

    def reference_price(self, mint: Pubkey) -> float:
        """Current reference price of ``mint`` in USD (float, for display and tests)."""
        return math.exp(self._log_price[mint])

    def fund_wallet(self, owner: Pubkey, lamports: int) -> Signature:
        """Airdrop ``lamports`` to ``owner`` (a real airdrop transaction of the bank)."""
        return Signature.from_string(str(self.bank.airdrop(owner, lamports)))

    def fund_token(self, owner: Pubkey, mint: Pubkey, amount: int) -> Pubkey:
        """Give ``owner`` an associated token account of ``mint`` holding ``amount`` base units more
        (genesis-style write; wSOL accounts are native, lamports = rent + amount). Returns the ATA."""
        ata = associated_token_address(owner, mint, TOKEN_PROGRAM_ID)
        existing = self.bank.get_account(ata)
        balance = decode_token_account(existing.data).amount if existing is not None else 0
        self._write_token_account(owner, mint, balance + amount)
        if mint != WSOL_MINT:
            self._supply[mint] = self._supply.get(mint, 0) + amount
            self._write_mints()
        return ata

    def quote(self, pool: PoolInfo, amount_in: int, a_to_b: bool) -> int:
        """Exact output of ``amount_in`` through ``pool`` now (the DEX adapter's quote math);
        raises :class:`~solarb.dex.base.QuoteError` where the program would fail."""
        module, state, aux = self._load(pool)
        return int(module.quote(state, aux, amount_in, a_to_b).amount_out)

    def _load(self, pool: PoolInfo) -> tuple[Any, Any, dict[Pubkey, bytes]]:
        module = DEX_MODULES[pool.dex]
        state = module.decode_pool(pool.address, self._data(pool.address))
        return module, state, {k: self._data(k) for k in module.aux_accounts(state)}

    def pool_price(self, pool: PoolInfo) -> float:
        """Price of ``mint_a`` in ``mint_b`` whole units at zero size, before fees (display/tests):
        the geometric mean of the adapter's spot rates both ways (the fee factor cancels)."""
        module, state, aux = self._load(pool)
        raw = math.sqrt(module.spot_rate(state, aux, True) / module.spot_rate(state, aux, False))
        da, db = self._by_mint[pool.mint_a].decimals, self._by_mint[pool.mint_b].decimals
        return raw * 10**da / 10**db

    def find_two_hop(self, min_profit_usd: float = 0.0) -> list[TwoHop]:
        """Profitable two-pool cycles over pools of one pair, best first (one per ordered pool pair
        and start token), each sized by integer ternary search on the exact quotes. Pairs whose
        marginal rates (fees included) multiply to <= 1 are skipped without sizing."""
        snap = {p.address: self._load(p) for p in self._pools}
        found = []
        by_pair: dict[frozenset[Pubkey], list[PoolInfo]] = {}
        for p in self._pools:
            by_pair.setdefault(frozenset((p.mint_a, p.mint_b)), []).append(p)
        for group in by_pair.values():
            for first in group:
                for second in group:
                    if first is second:
                        continue
                    for mint_in in (first.mint_a, first.mint_b):
                        opp = self._size_two_hop(snap, first, second, mint_in)
                        if opp is not None and self._usd(mint_in, opp.profit) > min_profit_usd:
                            found.append(opp)
        found.sort(key=lambda o: self._usd(o.mint_in, o.profit), reverse=True)
        return found

    def step(self) -> None:
        """One slot of market activity: reference random walk, noise swaps, competitor cycles."""
        for t in self._tokens:
            if t.mint != USDC_MINT:
                self._log_price[t.mint] += self.rng.gauss(0.0, self.price_volatility)
        for _ in range(self.noise_per_slot):
            self._noise_trade()
        for kp in self.competitors:
            if self.rng.random() < self.competitor_prob:
                self._compete(kp)

    # ---------------------------------------------------------------- construction
    def _create_tokens(self, n_tokens: int) -> list[TokenInfo]:
        sol = TokenInfo("SOL", WSOL_MINT, 9, TOKEN_PROGRAM_ID, 150.0 * math.exp(self.rng.gauss(0, 0.05)))
        usdc = TokenInfo("USDC", USDC_MINT, 6, TOKEN_PROGRAM_ID, 1.0)
        extras = self.rng.sample(_EXTRA_TOKENS, n_tokens - 2)
        out = [sol, usdc]
        for symbol, decimals, price in extras:
            mint = _keypair(self.seed, f"mint-{symbol}").pubkey()
            out.append(TokenInfo(symbol, mint, decimals, TOKEN_PROGRAM_ID,
                                 price * math.exp(self.rng.gauss(0, 0.1))))
        return out

    def _write_mints(self) -> None:
        for t in self._tokens:
            if t.mint == WSOL_MINT:
                if self.bank.get_account(WSOL_MINT) is None:  # the native mint: no authority, supply 0
                    data = encode_mint(9)
                    self.bank.set_account(WSOL_MINT, Account(rent_exempt_minimum(len(data)), data, TOKEN_PROGRAM_ID))
                continue
            authority = _keypair(self.seed, f"mint-authority-{t.symbol}").pubkey()
            data = encode_mint(t.decimals, self._supply[t.mint], mint_authority=authority)
            self.bank.set_account(t.mint, Account(rent_exempt_minimum(len(data)), data, t.token_program))

    def _pairs(self) -> list[tuple[TokenInfo, TokenInfo]]:
        sol, usdc, *extras = self._tokens
        pairs = [(sol, usdc)]
        for t in extras:
            pairs += [(t, sol), (t, usdc)]
        return pairs

    def _create_pools(self, n_pools: int) -> list[PoolInfo]:
        self._write_mints()  # pool factories may read the mints
        pairs = self._pairs()
        pools = []
        for i in range(n_pools):
            base, quote = pairs[i % len(pairs)]
            round_ = i // len(pairs)
            dex = KINDS[i % len(KINDS)]
            tvl = (2_000_000.0 if base.symbol == "SOL" else 300_000.0) * math.exp(self.rng.gauss(0, 0.5))
            skew = math.exp(self.rng.gauss(0, 0.002))  # pools start slightly apart
            reserve_a = int(tvl / 2 / base.price_usd * 10**base.decimals)
            reserve_b = int(tvl / 2 / quote.price_usd * skew * 10**quote.decimals)
            salt = f"{self.seed}:{i}".encode()
            if dex in CL_KINDS:
                address, accounts = create_cl_pool(
                    dex, mint_a=base.mint, mint_b=quote.mint, decimals_a=base.decimals,
                    decimals_b=quote.decimals, price=reserve_b / reserve_a, value_b=2 * reserve_b,
                    rng=self.rng,
                )  # fmt: skip
            elif dex == raydium_amm_v4.NAME:
                address, accounts = amm_v4_model.create_pool(
                    mint_a=base.mint, mint_b=quote.mint, reserve_a=reserve_a, reserve_b=reserve_b,
                    swap_fee_numerator=_AMM_V4_FEE[0], swap_fee_denominator=_AMM_V4_FEE[1],
                    decimals_a=base.decimals, decimals_b=quote.decimals, salt=salt,
                )
            else:
                tier = round_  # one pool per pair and round: one CPMM pool per (AmmConfig, pair)
                address, accounts = cpmm_model.create_pool(
                    mint_a=base.mint, mint_b=quote.mint, reserve_a=reserve_a, reserve_b=reserve_b,
                    decimals_a=base.decimals, decimals_b=quote.decimals, config_index=tier,
                    trade_fee_rate=_CPMM_FEE_RATES[tier % len(_CPMM_FEE_RATES)],
                )
            for key, acc in accounts.items():
                self.bank.set_account(key, acc)
            state = DEX_MODULES[dex].decode_pool(address, accounts[address].data)
            for mint, vault in ((state.mint_a, state.vault_a), (state.mint_b, state.vault_b)):
                self._supply[mint] += decode_token_account(accounts[vault].data).amount
            pools.append(PoolInfo(address, dex, state.mint_a, state.mint_b))
        return pools

    def _fund_everything(self, owner: Pubkey) -> None:
        """Generous SOL and token balances (about $5M of each token) for a market participant."""
        self.bank.set_account(owner, Account(10_000 * _LAMPORTS_PER_SOL, b"", SYSTEM_PROGRAM_ID))
        for t in self._tokens:
            amount = int(5_000_000 / t.price_usd * 10**t.decimals)
            self._write_token_account(owner, t.mint, amount)
            if t.mint != WSOL_MINT:
                self._supply[t.mint] += amount

    def _write_token_account(self, owner: Pubkey, mint: Pubkey, amount: int) -> None:
        ata = associated_token_address(owner, mint, TOKEN_PROGRAM_ID)
        if mint == WSOL_MINT:
            data = encode_token_account(mint, owner, amount, is_native=_TOKEN_ACCOUNT_RENT)
            self.bank.set_account(ata, Account(_TOKEN_ACCOUNT_RENT + amount, data, TOKEN_PROGRAM_ID))
        else:
            data = encode_token_account(mint, owner, amount)
            self.bank.set_account(ata, Account(_TOKEN_ACCOUNT_RENT, data, TOKEN_PROGRAM_ID))

    # ---------------------------------------------------------------- flow
    def _data(self, key: Pubkey) -> bytes:
        acc = self.bank.get_account(key)
        return acc.data if acc is not None else b""

    def _usd(self, mint: Pubkey, amount: int) -> float:
        return amount / 10 ** self._by_mint[mint].decimals * self.reference_price(mint)

    def _noise_trade(self) -> None:
        rng = self.rng
        pool = self._pools[rng.randrange(len(self._pools))]
        trader = self.traders[rng.randrange(len(self.traders))]
        ref = self.reference_price(pool.mint_a) / self.reference_price(pool.mint_b)
        deviation = math.log(self.pool_price(pool) / ref)  # > 0: the pool overprices mint_a
        p_sell_a = min(0.9, max(0.1, 0.5 + self.mean_reversion * deviation))
        a_to_b = rng.random() < p_sell_a
        mint_in = pool.mint_a if a_to_b else pool.mint_b
        module, state, aux = self._load(pool)
        reserve_in = decode_token_account(self._data(state.vault_a if a_to_b else state.vault_b)).amount
        fraction = min(0.02, self.trade_size * math.exp(rng.gauss(0.0, self.trade_sigma)))
        amount = max(1, int(reserve_in * fraction))
        balance = decode_token_account(self._data(associated_token_address(trader.pubkey(), mint_in))).amount
        if balance < amount:  # a drained trader is topped up, as fresh flow arrives from outside
            self._write_token_account(trader.pubkey(), mint_in, balance + 10 * amount)
            if mint_in != WSOL_MINT:
                self._supply[mint_in] += 10 * amount
                self._write_mints()
        ix = module.swap_instruction(state, trader.pubkey(), amount, 0, a_to_b, aux=aux)
        ok = self._send(trader, [ix])
        self.stats["noise_ok" if ok else "noise_failed"] += 1

    def _size_two_hop(
        self, snap: dict[Pubkey, tuple[Any, Any, dict[Pubkey, bytes]]], first: PoolInfo,
        second: PoolInfo, mint_in: Pubkey,
    ) -> TwoHop | None:
        m1, s1, aux1 = snap[first.address]
        m2, s2, aux2 = snap[second.address]
        a_to_b_1 = mint_in == first.mint_a
        mint_mid = first.mint_b if a_to_b_1 else first.mint_a
        a_to_b_2 = mint_mid == second.mint_a
        if m1.spot_rate(s1, aux1, a_to_b_1) * m2.spot_rate(s2, aux2, a_to_b_2) <= 1.0:
            return None

        def run(x: int) -> tuple[int, int]:
            try:
                mid = m1.quote(s1, aux1, x, a_to_b_1).amount_out
                return mid, m2.quote(s2, aux2, mid, a_to_b_2).amount_out
            except DexError:  # QuoteError, or aux bytes that do not decode
                return 0, 0

        reserve_in = decode_token_account(self._data(s1.vault_a if a_to_b_1 else s1.vault_b)).amount
        best = _ternary_max(lambda x: run(x)[1] - x, 1, max(2, reserve_in // 10))
        mid, out = run(best)
        if out <= best:
            return None
        return TwoHop(first, second, mint_in, mint_mid, best, mid, out)

    def _compete(self, kp: Keypair) -> None:
        min_usd = self.competitor_min_profit_usd
        opps = self.find_two_hop(min_usd)
        if not opps:
            return
        opp = opps[0]
        user = kp.pubkey()
        m1, s1, aux1 = self._load(opp.first)
        m2, s2, aux2 = self._load(opp.second)
        ixs = [
            m1.swap_instruction(s1, user, opp.amount_in, opp.amount_mid, opp.mint_in == s1.mint_a,
                                aux=aux1),
            m2.swap_instruction(s2, user, opp.amount_mid, opp.amount_in + 1,
                                opp.mint_mid == s2.mint_a, aux=aux2),
        ]  # fmt: skip
        ok = self._send(kp, ixs)
        self.stats["competitor_ok" if ok else "competitor_failed"] += 1

    def _send(self, payer: Keypair, ixs: Sequence[Instruction]) -> bool:
        blockhash, _ = self.bank.latest_blockhash()
        tx = VersionedTransaction(Message.new_with_blockhash(list(ixs), payer.pubkey(), blockhash), [payer])
        try:
            self.bank.process_transaction(tx)
        except TransactionFailed:
            return False
        status = self.bank.signature_status(tx.signatures[0])
        return status is not None and status.err is None


def _ternary_max(f: Callable[[int], int], lo: int, hi: int) -> int:
    """Argmax of a unimodal integer function on [lo, hi] (bounded: ~60 evaluations)."""
    while hi - lo > 2:
        m1 = lo + (hi - lo) // 3
        m2 = hi - (hi - lo) // 3
        if f(m1) < f(m2):
            lo = m1 + 1
        else:
            hi = m2
    return max(range(lo, hi + 1), key=f)
