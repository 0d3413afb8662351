"""Raydium program models and pool factories: factory -> adapter round trip, swaps through the model
against a minimal InvokeContext that applies SPL token transfers, program error codes."""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field

import pytest
from solders.instruction import Instruction
from solders.pubkey import Pubkey

from solarb.dex import raydium_amm_v4 as v4
from solarb.dex import raydium_cpmm as cp
from solarb.dex.spl_token import (
    TOKEN_2022_PROGRAM_ID,
    TOKEN_PROGRAM_ID,
    associated_token_address,
    decode_token_account,
    encode_mint,
    encode_token_account,
)
from solarb.errors import UsageError
from solarb.sim.accounts import Account
from solarb.sim.programs.base import AccountRef, ProgramError
from solarb.sim.programs.raydium_amm_v4 import RaydiumAmmV4Model
from solarb.sim.programs.raydium_amm_v4 import create_pool as create_v4
from solarb.sim.programs.raydium_cpmm import RaydiumCpmmModel, amm_config_address
from solarb.sim.programs.raydium_cpmm import create_pool as create_cpmm

CLOCK = Pubkey.from_string("SysvarC1ock11111111111111111111111111111111")


@dataclass
class Ctx:
    """Minimal InvokeContext: immediate writes, SPL transfers with owner/mint/balance checks."""

    accounts: dict[Pubkey, Account]
    signers: set[Pubkey]
    logs: list[str] = field(default_factory=list)
    transfers: list[tuple[Pubkey, Pubkey, Pubkey, int, bool]] = field(default_factory=list)
    units: int = 0

    def get(self, pubkey: Pubkey) -> Account | None:
        return self.accounts.get(pubkey)

    def set(self, pubkey: Pubkey, account: Account) -> None:
        self.accounts[pubkey] = account

    def log(self, message: str) -> None:
        self.logs.append(message)

    def consume(self, units: int) -> None:
        self.units += units

    def token_transfer(
        self, source: Pubkey, destination: Pubkey, authority: Pubkey, amount: int, *, pda_signed: bool = False
    ) -> None:
        src, dst = self.accounts[source], self.accounts[destination]
        a, b = decode_token_account(src.data), decode_token_account(dst.data)
        if a.owner != authority or not (pda_signed or authority in self.signers):
            raise ProgramError("owner does not match", code=4)
        if a.mint != b.mint:
            raise ProgramError("mint mismatch", code=3)
        if a.amount < amount:
            raise ProgramError("insufficient funds", code=1)
        self.accounts[source] = Account(src.lamports, encode_token_account(a.mint, a.owner, a.amount - amount), src.owner)
        self.accounts[destination] = Account(dst.lamports, encode_token_account(b.mint, b.owner, b.amount + amount), dst.owner)
        self.transfers.append((source, destination, authority, amount, pda_signed))

    def amount(self, key: Pubkey) -> int:
        return decode_token_account(self.accounts[key].data).amount

    def run(self, model: RaydiumAmmV4Model | RaydiumCpmmModel, ix: Instruction) -> None:
        refs = [AccountRef(m.pubkey, m.is_signer and m.pubkey in self.signers, m.is_writable) for m in ix.accounts]
        model.execute(self, refs, bytes(ix.data))


def _mint(key: int) -> Pubkey:
    return Pubkey.from_bytes(bytes([key]) * 32)


def _user_accounts(ctx: Ctx, user: Pubkey, mints: list[tuple[Pubkey, Pubkey, int]]) -> None:
    for mint, program, amount in mints:
        ctx.accounts[associated_token_address(user, mint, program)] = Account(
            2_039_280, encode_token_account(mint, user, amount), program
        )
        ctx.accounts.setdefault(mint, Account(1_461_600, encode_mint(6, 10**18), program))


# ---------------------------------------------------------------- AMM v4


def test_v4_factory_round_trip() -> None:
    a, b = _mint(1), _mint(2)
    pool, accounts = create_v4(mint_a=a, mint_b=b, reserve_a=10**12, reserve_b=15 * 10**10,
                               swap_fee_numerator=30, swap_fee_denominator=10_000, need_take_pnl_a=777)  # fmt: skip
    state = v4.decode_pool(pool, accounts[pool].data)
    assert accounts[pool].owner == v4.PROGRAM_ID and len(accounts[pool].data) == 752
    assert (state.mint_a, state.mint_b, state.status, state.need_take_pnl_coin) == (a, b, 6, 777)
    assert (state.swap_fee_numerator, state.swap_fee_denominator) == (30, 10_000)
    auth = v4.authority_address(state.nonce)
    assert auth == Pubkey.find_program_address([b"amm authority"], v4.PROGRAM_ID)[0]
    for vault, mint in ((state.vault_a, a), (state.vault_b, b)):
        tok = decode_token_account(accounts[vault].data)
        assert (tok.mint, tok.owner, accounts[vault].owner) == (mint, auth, TOKEN_PROGRAM_ID)
    aux = {k: acc.data for k, acc in accounts.items()}
    coin, pc = v4.reserves(state, decode_token_account(aux[state.vault_a]).amount, decode_token_account(aux[state.vault_b]).amount)
    assert (coin, pc) == (10**12, 15 * 10**10)
    assert state.lp_mint in accounts and state.open_orders in accounts
    other, _ = create_v4(mint_a=a, mint_b=b, reserve_a=1, reserve_b=1, salt=b"2")
    assert other != pool
    with pytest.raises(UsageError):
        create_v4(mint_a=a, mint_b=b, reserve_a=1, reserve_b=1, token_program_a=TOKEN_2022_PROGRAM_ID)
    with pytest.raises(UsageError):
        create_v4(mint_a=a, mint_b=a, reserve_a=1, reserve_b=1)


def _v4_setup() -> tuple[Ctx, v4.AmmV4Pool, Pubkey]:
    a, b = _mint(3), _mint(4)
    pool, accounts = create_v4(mint_a=a, mint_b=b, reserve_a=10**12, reserve_b=15 * 10**10, need_take_pnl_b=1234)
    user = Pubkey.from_bytes(b"\x09" * 32)
    ctx = Ctx(dict(accounts), {user})
    _user_accounts(ctx, user, [(a, TOKEN_PROGRAM_ID, 10**11), (b, TOKEN_PROGRAM_ID, 10**10)])
    return ctx, v4.decode_pool(pool, accounts[pool].data), user


def _aux(ctx: Ctx, keys: list[Pubkey]) -> dict[Pubkey, bytes]:
    return {k: ctx.accounts[k].data for k in keys if k in ctx.accounts}


def test_v4_swap_moves_tokens_by_the_quote() -> None:
    ctx, state, user = _v4_setup()
    src, dst = (associated_token_address(user, m) for m in (state.mint_a, state.mint_b))
    for a_to_b, amount in ((True, 10**9), (False, 5 * 10**8), (True, 3 * 10**9)):
        q = v4.quote(state, _aux(ctx, v4.aux_accounts(state)), amount, a_to_b)
        before = {k: ctx.amount(k) for k in (src, dst, state.vault_a, state.vault_b)}
        ctx.transfers.clear()
        ctx.run(RaydiumAmmV4Model(), v4.swap_instruction(state, user, amount, q.amount_out, a_to_b))
        user_in, user_out = (src, dst) if a_to_b else (dst, src)
        vault_in, vault_out = (state.vault_a, state.vault_b) if a_to_b else (state.vault_b, state.vault_a)
        auth = v4.authority_address(state.nonce)
        assert ctx.transfers == [(user_in, vault_in, user, amount, False), (vault_out, user_out, auth, q.amount_out, True)]
        assert ctx.amount(user_in) == before[user_in] - amount
        assert ctx.amount(user_out) == before[user_out] + q.amount_out
        assert ctx.amount(vault_in) == before[vault_in] + amount
        assert ctx.amount(vault_out) == before[vault_out] - q.amount_out
    # Pending PnL on the pc side stays excluded from the reserves after trading.
    assert ctx.amount(state.vault_b) - v4.reserves(state, ctx.amount(state.vault_a), ctx.amount(state.vault_b))[1] == 1234


def test_v4_slippage_and_account_checks() -> None:
    ctx, state, user = _v4_setup()
    model = RaydiumAmmV4Model()
    q = v4.quote(state, _aux(ctx, v4.aux_accounts(state)), 10**9, True)
    snapshot = dict(ctx.accounts)

    def code(ix: Instruction, signers: set[Pubkey] | None = None) -> int | None:
        ctx.signers = {user} if signers is None else signers
        with pytest.raises(ProgramError) as err:
            ctx.run(model, ix)
        return err.value.code

    assert code(v4.swap_instruction(state, user, 10**9, q.amount_out + 1, True)) == 30  # ExceededSlippage
    assert ctx.accounts == snapshot and ctx.transfers == []
    assert code(v4.swap_instruction(state, user, 10**9, 0, True), signers=set()) == 21
    assert code(v4.swap_instruction(state, user, 10**12, 0, True)) == 40  # user balance too low
    assert code(v4.swap_instruction(state, user, 1, 0, True)) == 29  # zero output
    bad = v4.swap_instruction(state, user, 10**9, 0, True)
    metas = list(bad.accounts)
    metas[3], metas[4] = metas[4], metas[3]
    assert code(Instruction(bad.program_id, bytes(bad.data), metas)) == 4  # InvalidCoinVault
    assert code(Instruction(bad.program_id, b"\x09" + bytes(bad.data)[1:], list(bad.accounts))) == 23


def test_v4_waiting_trade_opens_with_clock() -> None:
    ctx, state, user = _v4_setup()
    raw = bytearray(ctx.accounts[state.address].data)
    struct.pack_into("<Q", raw, 0, 7)  # WaitingTrade
    struct.pack_into("<Q", raw, 224, 1_000)  # pool_open_time
    ctx.accounts[state.address] = Account(1, bytes(raw), v4.PROGRAM_ID)
    state = v4.decode_pool(state.address, bytes(raw))
    ix = v4.swap_instruction(state, user, 10**9, 1, True)
    ctx.accounts[CLOCK] = Account(1, struct.pack("<QqQQq", 1, 0, 0, 0, 999), Pubkey.default())
    with pytest.raises(ProgramError) as err:
        ctx.run(RaydiumAmmV4Model(), ix)
    assert err.value.code == 22
    ctx.accounts[CLOCK] = Account(1, struct.pack("<QqQQq", 1, 0, 0, 0, 1_000), Pubkey.default())
    ctx.run(RaydiumAmmV4Model(), ix)
    assert v4.decode_pool(state.address, ctx.accounts[state.address].data).status == 6  # -> SwapOnly


def test_wsol_vaults_are_native() -> None:
    wsol = Pubkey.from_string("So11111111111111111111111111111111111111112")
    for create in (create_v4, create_cpmm):
        pool, accounts = create(mint_a=wsol, mint_b=_mint(5), reserve_a=10**9, reserve_b=10**6)
        vaults = [k for k, a in accounts.items() if len(a.data) == 165]
        native = [k for k in vaults if decode_token_account(accounts[k].data).mint == wsol]
        assert len(vaults) == 2 and len(native) == 1
        tok = decode_token_account(accounts[native[0]].data)
        assert tok.is_native == 2_039_280 and accounts[native[0]].lamports == 2_039_280 + 10**9
        assert tok.amount == 10**9


# ---------------------------------------------------------------- CPMM


def test_cpmm_factory_round_trip() -> None:
    hi, lo = _mint(0xEE), _mint(0x11)  # mint_a sorts after mint_b: the factory orders them
    pool, accounts = create_cpmm(mint_a=hi, mint_b=lo, reserve_a=7 * 10**9, reserve_b=3 * 10**12,
                                 token_program_a=TOKEN_2022_PROGRAM_ID, trade_fee_rate=3000,
                                 protocol_fee_rate=100_000, fund_fee_rate=50_000, creator_fee_rate=700,
                                 enable_creator_fee=True, creator_fee_on=1, config_index=4,
                                 decimals_a=6, decimals_b=9)  # fmt: skip
    state = cp.decode_pool(pool, accounts[pool].data)
    assert (state.mint_a, state.mint_b) == (lo, hi)
    assert (state.token_program_a, state.token_program_b) == (TOKEN_PROGRAM_ID, TOKEN_2022_PROGRAM_ID)
    assert (state.mint_0_decimals, state.mint_1_decimals) == (9, 6)
    assert (state.creator_fee_on, state.enable_creator_fee, state.status) == (1, True, 0)
    config = amm_config_address(4)
    assert state.amm_config == config
    assert pool == Pubkey.find_program_address([b"pool", bytes(config), bytes(lo), bytes(hi)], cp.PROGRAM_ID)[0]
    cfg = cp.decode_amm_config(config, accounts[config].data)
    assert (cfg.index, cfg.trade_fee_rate, cfg.protocol_fee_rate, cfg.fund_fee_rate, cfg.creator_fee_rate) == (
        4, 3000, 100_000, 50_000, 700)  # fmt: skip
    for vault, mint, program, amount in ((state.vault_a, lo, TOKEN_PROGRAM_ID, 3 * 10**12),
                                         (state.vault_b, hi, TOKEN_2022_PROGRAM_ID, 7 * 10**9)):  # fmt: skip
        tok = decode_token_account(accounts[vault].data)
        assert (tok.mint, tok.owner, tok.amount, accounts[vault].owner) == (mint, cp.AUTHORITY, amount, program)
    obs = accounts[state.observation_key].data
    assert len(obs) == cp.OBSERVATION_LEN and obs[:8] == cp.OBSERVATION_DISCRIMINATOR and obs[11:43] == bytes(pool)
    assert state.lp_supply == math.isqrt(7 * 10**9 * 3 * 10**12)
    with pytest.raises(UsageError):
        create_cpmm(mint_a=hi, mint_b=lo, reserve_a=1, reserve_b=1, trade_fee_rate=999_000, creator_fee_rate=1000)


def _cpmm_setup(**params: int | bool) -> tuple[Ctx, cp.CpmmPool, Pubkey]:
    a, b = _mint(0x21), _mint(0x42)
    pool, accounts = create_cpmm(mint_a=a, mint_b=b, reserve_a=5 * 10**12, reserve_b=8 * 10**11,
                                 token_program_b=TOKEN_2022_PROGRAM_ID, **params)  # type: ignore[arg-type]  # fmt: skip
    user = Pubkey.from_bytes(b"\x07" * 32)
    ctx = Ctx(dict(accounts), {user})
    _user_accounts(ctx, user, [(a, TOKEN_PROGRAM_ID, 10**12), (b, TOKEN_2022_PROGRAM_ID, 10**12)])
    return ctx, cp.decode_pool(pool, accounts[pool].data), user


def test_cpmm_swaps_update_fee_accruals_and_reserves() -> None:
    ctx, state, user = _cpmm_setup(creator_fee_rate=1000, enable_creator_fee=True, creator_fee_on=2)
    model = RaydiumCpmmModel()
    expected = {"protocol": [0, 0], "fund": [0, 0], "creator": [0, 0]}
    for a_to_b, amount in ((True, 10**10), (False, 3 * 10**9), (True, 7 * 10**9)):
        state = cp.decode_pool(state.address, ctx.accounts[state.address].data)
        aux = _aux(ctx, cp.aux_accounts(state))
        s = cp.quote_detail(state, aux, amount, a_to_b)
        vault_in, vault_out = (state.vault_a, state.vault_b) if a_to_b else (state.vault_b, state.vault_a)
        before_in, before_out = ctx.amount(vault_in), ctx.amount(vault_out)
        ctx.transfers.clear()
        ctx.run(model, cp.swap_instruction(state, user, amount, s.amount_received, a_to_b))
        assert [t[3:] for t in ctx.transfers] == [(amount, False), (s.amount_out, True)]
        assert ctx.transfers[1][2] == cp.AUTHORITY
        assert (ctx.amount(vault_in), ctx.amount(vault_out)) == (before_in + amount, before_out - s.amount_out)
        side_in = 0 if a_to_b else 1
        # OnlyToken1: 1 -> 0 pays the creator fee on input (token_1), 0 -> 1 on output (token_1 too).
        assert s.creator_fee_on_input == (not a_to_b) and s.creator_fee > 0
        expected["protocol"][side_in] += s.protocol_fee
        expected["fund"][side_in] += s.fund_fee
        expected["creator"][1] += s.creator_fee
    after = cp.decode_pool(state.address, ctx.accounts[state.address].data)
    assert [after.protocol_fees_token_0, after.protocol_fees_token_1] == expected["protocol"]
    assert [after.fund_fees_token_0, after.fund_fees_token_1] == expected["fund"]
    assert [after.creator_fees_token_0, after.creator_fees_token_1] == expected["creator"]
    assert all(v > 0 for v in expected["protocol"] + expected["fund"])
    # The next quote trades against vault minus every accrual.
    aux = _aux(ctx, cp.aux_accounts(after))
    r0 = ctx.amount(after.vault_a) - expected["protocol"][0] - expected["fund"][0]
    r1 = ctx.amount(after.vault_b) - expected["protocol"][1] - expected["fund"][1] - expected["creator"][1]
    s = cp.quote_detail(after, aux, 10**9, True)
    assert s.amount_out + s.creator_fee == (10**9 - s.trade_fee) * r1 // (r0 + 10**9 - s.trade_fee)


def test_cpmm_slippage_and_account_checks() -> None:
    ctx, state, user = _cpmm_setup()
    model = RaydiumCpmmModel()
    s = cp.quote_detail(state, _aux(ctx, cp.aux_accounts(state)), 10**9, False)
    snapshot = dict(ctx.accounts)

    def code(ix: Instruction, signers: set[Pubkey] | None = None) -> int | None:
        ctx.signers = {user} if signers is None else signers
        with pytest.raises(ProgramError) as err:
            ctx.run(model, ix)
        return err.value.code

    ix = cp.swap_instruction(state, user, 10**9, s.amount_received + 1, False)
    assert code(ix) == 6005  # ExceededSlippage
    assert ctx.accounts == snapshot and ctx.transfers == []
    assert code(cp.swap_instruction(state, user, 10**9, 0, False), signers=set()) == 3010
    good = cp.swap_instruction(state, user, 10**9, 0, False)

    def with_account(i: int, key: Pubkey, j: int | None = None, key_j: Pubkey | None = None) -> Instruction:
        metas = list(good.accounts)
        for idx, k in ((i, key), (j, key_j)):
            if idx is not None and k is not None:
                metas[idx] = type(metas[idx])(k, metas[idx].is_signer, metas[idx].is_writable)
        return Instruction(good.program_id, bytes(good.data), metas)

    assert code(with_account(1, user)) == 2006  # authority seeds
    assert code(with_account(2, Pubkey.default())) == 2012  # amm_config address
    assert code(with_account(7, state.vault_b)) == 2012  # Anchor: output mint != output vault's mint
    assert code(with_account(7, state.vault_b, 11, state.mint_b)) == 6008  # same vault both ways
    assert code(with_account(12, Pubkey.default())) == 2012  # observation
    assert code(Instruction(good.program_id, b"\0" * 24, list(good.accounts))) == 101
    ctx.signers = {user}
    ctx.run(model, good)  # and the untouched instruction works
    assert ctx.transfers[0][3] == 10**9
