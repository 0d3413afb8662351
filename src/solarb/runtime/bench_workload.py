"""The ``solarb bench`` workload: a sim Bank with N pools over five DEXes and noise traders.

Runs in the bench's child process (see :mod:`solarb.runtime.bench`). Deterministic given the
seed. Floats set reference prices and trade sizes (generation only); every amount sent is an int.
"""

from __future__ import annotations

import hashlib
import math
import random
from typing import Any

from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from solarb.dex import meteora_dlmm, orca_whirlpool, raydium_amm_v4, raydium_clmm, raydium_cpmm
from solarb.dex.base import DexError
from solarb.dex.spl_token import (
    TOKEN_PROGRAM_ID,
    associated_token_address,
    decode_token_account,
    encode_mint,
    encode_token_account,
)
from solarb.runtime.bench import encode_account_frame, encode_slot_frame
from solarb.sim.accounts import Account, rent_exempt_minimum
from solarb.sim.bank import Bank
from solarb.sim.programs import meteora_dlmm as dlmm_model
from solarb.sim.programs import orca_whirlpool as whirl_model
from solarb.sim.programs import raydium_amm_v4 as amm_model
from solarb.sim.programs import raydium_clmm as clmm_model
from solarb.sim.programs import raydium_cpmm as cpmm_model
from solarb.sim.tx_errors import TransactionFailed

__all__ = ["Workload"]

_KINDS = (amm_model, cpmm_model, whirl_model, clmm_model, dlmm_model)
_ADAPTER = {amm_model: raydium_amm_v4, cpmm_model: raydium_cpmm, whirl_model: orca_whirlpool,
            clmm_model: raydium_clmm, dlmm_model: meteora_dlmm}
_TICK_BASE = math.log(1.0001)


def _key(seed: int, label: str) -> Pubkey:
    return Pubkey.from_bytes(hashlib.sha256(f"solarb-bench:{seed}:{label}".encode()).digest())


class Workload:
    """Creates the market at construction; :meth:`frames` moves it and returns frames."""

    def __init__(self, n_pools: int, seed: int, swaps_per_slot: int, inject_every: int) -> None:
        if n_pools < 8:
            raise ValueError("bench needs at least 8 pools")
        self.rng = random.Random(seed)
        self.seed = seed
        self.swaps_per_slot = swaps_per_slot
        self.inject_every = inject_every
        self.bank = Bank(programs=[amm_model.RaydiumAmmV4Model(), cpmm_model.RaydiumCpmmModel(),
                                   whirl_model.OrcaWhirlpoolModel(), clmm_model.RaydiumClmmModel(),
                                   dlmm_model.MeteoraDlmmModel()])
        self.trader = Keypair.from_seed(hashlib.sha256(f"bench-trader:{seed}".encode()).digest())
        self.bank.airdrop(self.trader.pubkey(), 10**15)
        # tokens: SOL and USDC (synthetic SPL mints) + one token per ~3 pools
        self.sol = _key(seed, "SOL")
        self.usdc = _key(seed, "USDC")
        self.price: dict[Pubkey, float] = {self.sol: 150.0, self.usdc: 1.0}
        self.decimals: dict[Pubkey, int] = {self.sol: 9, self.usdc: 6}
        n_hub = 3
        n_tokens = max(2, (n_pools - n_hub) // 3)
        tokens = []
        for i in range(n_tokens):
            mint = _key(seed, f"T{i}")
            self.price[mint] = math.exp(self.rng.uniform(math.log(1e-4), math.log(200)))
            self.decimals[mint] = self.rng.choice((5, 6, 8, 9))
            tokens.append(mint)
        for mint, dec in self.decimals.items():
            data = encode_mint(dec, 10**19 - 1)
            rent = rent_exempt_minimum(len(data))
            self.bank.set_account(mint, Account(rent, data, TOKEN_PROGRAM_ID))
            ata = associated_token_address(self.trader.pubkey(), mint, TOKEN_PROGRAM_ID)
            acc = encode_token_account(mint, self.trader.pubkey(), 10**18)
            self.bank.set_account(ata, Account(2_039_280, acc, TOKEN_PROGRAM_ID))
        pairs = [(self.sol, self.usdc)] * n_hub
        for i in range(n_pools - n_hub):
            t = tokens[(i // 3) % n_tokens]
            pairs.append((t, self.usdc if i % 3 == 2 else self.sol))
        self.pools: list[tuple[Pubkey, Any, Pubkey, Pubkey]] = []  # address, model, mint a, b
        self._count: dict[tuple[Any, bytes, bytes], int] = {}
        for i, (a, b) in enumerate(pairs):
            self._create(i, _KINDS[i % len(_KINDS)], a, b)
        self.pool_keys = [p[0] for p in self.pools]
        self.watched: dict[Pubkey, tuple[int, int]] = {}
        self.slot_subs: list[tuple[int, int]] = []
        self.buffer: list[tuple[int, bool, bytes]] = []  # (connection index, is account, frame)
        self._accounts_buffered = 0
        self._revert: dict[int, tuple[tuple[Pubkey, Any, Pubkey, Pubkey], int, bool]] = {}
        self.counts = {"swaps": 0, "swaps_failed": 0, "injected": 0, "account_frames": 0,
                       "slot_frames": 0, "slots": 0}
        self.bank.add_listener(self)

    # ------------------------------------------------------------------ market construction

    def _create(self, i: int, kind: Any, a: Pubkey, b: Pubkey) -> None:
        rng = self.rng
        pa, pb = self.price[a], self.price[b]
        da, db = self.decimals[a], self.decimals[b]
        tvl = (2e6 if b == self.usdc and a == self.sol else 3e5) * math.exp(rng.gauss(0, 0.5))
        skew = math.exp(rng.gauss(0, 0.002))
        x = int(tvl / 2 / pa * 10**da)
        y = int(tvl / 2 / pb * skew * 10**db)
        raw = y / x  # b base units per a base unit
        ck = (kind, bytes(a), bytes(b))
        k = self._count.get(ck, 0)
        self._count[ck] = k + 1
        if kind is amm_model:
            addr, accounts = amm_model.create_pool(mint_a=a, mint_b=b, reserve_a=x, reserve_b=y,
                                                   decimals_a=da, decimals_b=db, salt=b"%d" % i)
        elif kind is cpmm_model:
            addr, accounts = cpmm_model.create_pool(mint_a=a, mint_b=b, reserve_a=x, reserve_b=y,
                                                    decimals_a=da, decimals_b=db, config_index=k,
                                                    trade_fee_rate=(2500, 1000)[k % 2])
        elif kind is whirl_model:
            ts, c = 64, self._center(raw, 64)
            liq = int(math.sqrt(x * y) * 2)
            pos = [(c - 6400, c + 6400, liq), (c - 640, c + 640, 3 * liq),
                   (c - 12800, c + 12800, liq // 2)]
            addr, accounts = whirl_model.create_pool(
                mint_a=a, mint_b=b, tick_spacing=ts, fee_rate=(500, 3000)[k % 2], positions=pos,
                sqrt_price_x64=math.isqrt(int(raw * 2**64) * 2**64), decimals_a=da, decimals_b=db,
                fee_tier_index=64 + 256 * k)
        elif kind is clmm_model:
            ts, c = 10, self._center(raw, 10)
            liq = int(math.sqrt(x * y) * 4)
            pos = [(c - 1000, c + 1000, liq), (c - 200, c + 200, 3 * liq),
                   (c - 2000, c + 2000, liq // 2)]
            addr, accounts = clmm_model.create_pool(
                mint_a=a, mint_b=b, tick_spacing=ts, trade_fee_rate=(500, 2500)[k % 2],
                positions=pos,
                sqrt_price_x64=math.isqrt(int(raw * 2**64) * 2**64), decimals_a=da, decimals_b=db,
                config_index=1000 + 2 * k + (k % 2))
        else:
            step = 10
            active = round(math.log(raw) / math.log(1 + step / 10_000))
            width = 70  # dense around the price, sparse tails: >= 3 arrays each way
            offsets = [*range(-width, width + 1), -140, 140, -210, 210]
            bins = {active + j: (0 if j < 0 else x // (2 * width), 0 if j > 0 else y // (2 * width))
                    for j in offsets}
            addr, accounts = dlmm_model.create_pool(
                mint_x=a, mint_y=b, bin_step=step, base_factor=5_000 + k, active_id=active,
                bins=bins)
        for key, acc in accounts.items():
            self.bank.set_account(key, acc)
        state = _ADAPTER[kind].decode_pool(addr, accounts[addr].data)
        self.pools.append((addr, kind, state.mint_a, state.mint_b))

    @staticmethod
    def _center(raw: float, spacing: int) -> int:
        return round(math.log(raw) / _TICK_BASE / spacing) * spacing

    # ------------------------------------------------------------------ protocol

    def accounts(self, keys: list[Pubkey]) -> list[tuple[bytes, bytes, int, bytes, int]]:
        """Current ``(pubkey, owner, lamports, data, slot)`` of existing accounts among ``keys``."""
        out = []
        for k in keys:
            acc = self.bank.get_account(k)
            if acc is not None:
                out.append((bytes(k), bytes(acc.owner), acc.lamports, acc.data, self.bank.slot))
        return out

    def watch(self, subs: list[tuple[bytes, int, int]], slot_subs: list[tuple[int, int]]) -> None:
        """Subscription ids (and connection index) of the watched accounts and of the slots."""
        self.watched = {Pubkey.from_bytes(pk): (sid, ci) for pk, sid, ci in subs}
        self.slot_subs = list(slot_subs)
        self.on_slot(self.bank.slot, self.bank.slot - 1, 0)  # the live session's current slot

    def frames(self, n: int) -> list[tuple[int, bool, bytes]]:
        """Exactly ``n`` account frames (with the slot frames between them): swaps until enough
        watched accounts were written; the surplus waits for the next call."""
        while self._accounts_buffered < n:
            self._swap()
        buf = self.buffer
        out: list[tuple[int, bool, bytes]] = []
        taken = i = 0
        while taken < n:
            f = buf[i]
            out.append(f)
            taken += f[1]
            i += 1
        self.buffer = buf[i:]
        self._accounts_buffered -= n
        return out

    def stats(self) -> dict[str, int]:
        """Generator counters."""
        return dict(self.counts)

    # ------------------------------------------------------------------ Bank listener

    def on_account(self, pubkey: Pubkey, account: Account, slot: int) -> None:
        """Frame every write of a watched account."""
        sub = self.watched.get(pubkey)
        if sub is None:
            return
        self.counts["account_frames"] += 1
        self._accounts_buffered += 1
        self.buffer.append((sub[1], True, encode_account_frame(
            sub[0], slot, account.lamports, str(account.owner), account.data)))

    def on_slot(self, slot: int, parent: int, root: int) -> None:
        """One slotNotification per connection."""
        self.counts["slot_frames"] += len(self.slot_subs)
        for sid, ci in self.slot_subs:
            self.buffer.append((ci, False, encode_slot_frame(sid, slot)))

    def on_signature(self, signature: object, slot: int, err: object) -> None:
        """Unused."""

    # ------------------------------------------------------------------ flow

    def _data(self, key: Pubkey) -> bytes:
        acc = self.bank.get_account(key)
        return acc.data if acc is not None else b""

    def _swap(self) -> None:
        rng = self.rng
        bank = self.bank
        addr, kind, mint_a, mint_b = self.pools[rng.randrange(len(self.pools))]
        adapter = _ADAPTER[kind]
        state = adapter.decode_pool(addr, bank.get_account(addr).data)  # type: ignore[union-attr]
        aux = {k: acc.data for k in adapter.aux_accounts(state)
               if (acc := bank.get_account(k)) is not None}
        scale = 10 ** (self.decimals[mint_b] - self.decimals[mint_a])
        ref = self.price[mint_a] / self.price[mint_b] * scale
        try:
            spot = adapter.spot_rate(state, aux, True)
        except DexError:
            spot = ref
        deviation = math.log(max(spot, 1e-300) / ref)  # > 0: the pool overprices mint_a
        every = self.inject_every
        inject = every > 0 and self.counts["swaps"] % every == every - 1
        revert = self._revert.pop(self.counts["swaps"], None)
        if revert is not None:  # an arbitrageur closes an injected dislocation a few swaps later
            addr, kind, mint_a, mint_b = revert[0]
            adapter = _ADAPTER[kind]
            state = adapter.decode_pool(addr, self._data(addr))
            self._send(adapter.swap_instruction(state, self.trader.pubkey(), revert[1], 0,
                                                revert[2]))
            return
        if inject:
            a_to_b = rng.random() < 0.5
            fraction = 0.01
            self.counts["injected"] += 1
        else:
            a_to_b = rng.random() < min(0.95, max(0.05, 0.5 + 500 * deviation))
            fraction = min(0.005, 0.0003 * math.exp(rng.gauss(0.0, 0.7)))
        vault = state.vault_a if a_to_b else state.vault_b
        reserve = decode_token_account(self._data(vault)).amount
        amount = max(1, int(reserve * fraction))
        ix = adapter.swap_instruction(state, self.trader.pubkey(), amount, 0, a_to_b)
        if inject:
            try:  # the reverse trade, sent 2..20 swaps later
                back = adapter.quote(state, aux, amount, a_to_b).amount_out
                self._revert[self.counts["swaps"] + rng.randint(2, 20)] = (
                    (addr, kind, mint_a, mint_b), back, not a_to_b)
            except DexError:
                pass
        self._send(ix)

    def _send(self, ix: Any) -> None:
        bank = self.bank
        msg = Message.new_with_blockhash([ix], self.trader.pubkey(), bank.latest_blockhash()[0])
        self.counts["swaps"] += 1
        try:
            sig = bank.process_transaction(VersionedTransaction(msg, [self.trader]))
            rec = bank.signature_status(sig)
            if rec is not None and rec.err is not None:
                self.counts["swaps_failed"] += 1
        except TransactionFailed:
            self.counts["swaps_failed"] += 1
        if self.counts["swaps"] % self.swaps_per_slot == 0:
            bank.advance_slot()
            self.counts["slots"] += 1
