"""Model of the Raydium AMM v4 program for the local cluster, plus the pool factory.

Executes ``SwapBaseInV2`` (tag 16), the instruction :mod:`solarb.dex.raydium_amm_v4` and the SDK
build, with the program's account checks and error codes in the program's order, and the
adapter's exact math. Other instructions fail with ``InvalidInstruction`` (23).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import replace

from solders.pubkey import Pubkey

from solarb.dex import raydium_amm_v4 as amm
from solarb.dex.base import DecodeError, QuoteError
from solarb.dex.spl_token import (
    TOKEN_ACCOUNT_LEN,
    TOKEN_PROGRAM_ID,
    WSOL_MINT,
    TokenAccount,
    decode_token_account,
    encode_mint,
    encode_token_account,
)
from solarb.errors import UsageError
from solarb.sim.accounts import Account, rent_exempt_minimum
from solarb.sim.programs.base import AccountRef, InvokeContext, ProgramError

__all__ = ["OPENBOOK_PROGRAM_ID", "RaydiumAmmV4Model", "create_pool", "vault_account"]

OPENBOOK_PROGRAM_ID = Pubkey.from_string("srmqPvymJeFKQ4zGQed1GFppgkRHL9kaELCbyksJtPX")
AMM_OWNER = Pubkey.from_string("GThUX1Atko4tqhN2NaiTazWSeFWMuiUvfFnyJyUghFMJ")
_SWAP = struct.Struct("<BQQ")
_CLOCK_TS = struct.Struct("<q")

# Error codes used below (AmmError).
E_INVALID_PROGRAM_ADDRESS = 1
E_EXPECTED_ACCOUNT = 3
E_INVALID_COIN_VAULT = 4
E_INVALID_PC_VAULT = 5
E_INVALID_OWNER = 18
E_INVALID_SIGN_ACCOUNT = 21
E_INVALID_STATUS = 22
E_INVALID_INSTRUCTION = 23
E_INVALID_AMM_ACCOUNT_OWNER = 27
E_INVALID_INPUT = 29
E_EXCEEDED_SLIPPAGE = 30
E_INVALID_SPL_TOKEN_PROGRAM = 38
E_INSUFFICIENT_FUNDS = 40
E_INVALID_USER_TOKEN = 42
E_NOT_ALLOWED = 59


def _unix_timestamp(ctx: InvokeContext) -> int:
    """Clock sysvar ``unix_timestamp`` (read by syscall on chain); 0 when the cluster has no Clock."""
    try:
        clock = ctx.get(amm.CLOCK_SYSVAR)
    except ProgramError:
        return 0
    return int(_CLOCK_TS.unpack_from(clock.data, 32)[0]) if clock and len(clock.data) >= 40 else 0


def _err(code: int, what: str) -> ProgramError:
    return ProgramError(f"raydium_amm_v4: {what} ({amm.ERRORS[code]})", code=code)


class RaydiumAmmV4Model:
    """The AMM v4 program as the cluster runs it."""

    program_id = amm.PROGRAM_ID

    def execute(self, ctx: InvokeContext, accounts: Sequence[AccountRef], data: bytes) -> None:
        """Run one instruction; only ``SwapBaseInV2`` is modelled."""
        if len(data) != _SWAP.size or data[0] != amm.SWAP_BASE_IN_V2_TAG:
            raise _err(E_INVALID_INSTRUCTION, "only swap_base_in_v2 (tag 16) is modelled")
        _tag, amount_in, min_out = _SWAP.unpack(data)
        if len(accounts) < 8:
            raise ProgramError("raydium_amm_v4: not enough accounts", builtin="NotEnoughAccountKeys")
        token_prog, pool_ref, auth_ref, coin_ref, pc_ref, src_ref, dst_ref, owner_ref = accounts[:8]
        ctx.consume(30_000)

        pool_acc = ctx.get(pool_ref.pubkey)
        if pool_acc is None or pool_acc.owner != amm.PROGRAM_ID:
            raise _err(E_INVALID_AMM_ACCOUNT_OWNER, "pool account not owned by the program")
        if len(pool_acc.data) != amm.AMM_INFO_LEN:
            raise _err(E_EXPECTED_ACCOUNT, "pool account size")
        try:
            pool = amm.decode_pool(pool_ref.pubkey, pool_acc.data)
        except DecodeError as exc:
            raise _err(E_INVALID_STATUS, str(exc)) from exc
        if pool.mint_a == pool.mint_b:
            raise _err(E_NOT_ALLOWED, "coin mint equals pc mint")
        if not owner_ref.is_signer:
            raise _err(E_INVALID_SIGN_ACCOUNT, "user owner did not sign")
        if token_prog.pubkey != TOKEN_PROGRAM_ID:
            raise _err(E_INVALID_SPL_TOKEN_PROGRAM, "token program")
        if auth_ref.pubkey != amm.authority_address(pool.nonce):
            raise _err(E_INVALID_PROGRAM_ADDRESS, "authority")
        if coin_ref.pubkey != pool.vault_a:
            raise _err(E_INVALID_COIN_VAULT, "coin vault")
        if pc_ref.pubkey != pool.vault_b:
            raise _err(E_INVALID_PC_VAULT, "pc vault")
        vaults = (pool.vault_a, pool.vault_b)
        if src_ref.pubkey in vaults or dst_ref.pubkey in vaults:
            raise _err(E_INVALID_USER_TOKEN, "user account is a pool vault")
        coin_vault, pc_vault, source, dest = (
            self._token(ctx, r.pubkey) for r in (coin_ref, pc_ref, src_ref, dst_ref)
        )

        status = pool.status
        if status not in amm.SWAP_STATUSES:
            raise _err(E_INVALID_STATUS, f"status {status}")
        if status == amm.STATUS_WAITING_TRADE:
            now = _unix_timestamp(ctx)
            if now < pool.pool_open_time:
                raise _err(E_INVALID_STATUS, "pool not open yet")
            status = amm.STATUS_SWAP_ONLY
        try:
            coin, pc = amm.reserves(pool, coin_vault.amount, pc_vault.amount)
        except QuoteError as exc:
            raise ProgramError(str(exc), code=exc.code) from exc

        if source.mint == coin_vault.mint and dest.mint == pc_vault.mint:
            a_to_b = True
        elif source.mint == pc_vault.mint and dest.mint == coin_vault.mint:
            a_to_b = False
        else:
            raise _err(E_INVALID_USER_TOKEN, "user token mints do not match the pool")
        if source.amount < amount_in:
            raise _err(E_INSUFFICIENT_FUNDS, "user source balance below amount_in")
        r_in, r_out = (coin, pc) if a_to_b else (pc, coin)
        try:
            out, _fee = amm.swap_amounts(
                amount_in, r_in, r_out, pool.swap_fee_numerator, pool.swap_fee_denominator
            )
        except QuoteError as exc:
            raise ProgramError(
                f"raydium_amm_v4: program panicked: {exc}", builtin="ProgramFailedToComplete"
            ) from exc
        ctx.log(f"ray_log: amount_in={amount_in} minimum_out={min_out} out_amount={out}")
        if out < min_out:
            raise _err(E_EXCEEDED_SLIPPAGE, f"out {out} < minimum {min_out}")
        if out == 0 or amount_in == 0:
            raise _err(E_INVALID_INPUT, "zero amount")
        if out >= r_out:
            raise _err(E_INSUFFICIENT_FUNDS, "output exceeds reserve")

        coin_key, pc_key = coin_ref.pubkey, pc_ref.pubkey
        vault_in, vault_out = (coin_key, pc_key) if a_to_b else (pc_key, coin_key)
        ctx.token_transfer(src_ref.pubkey, vault_in, owner_ref.pubkey, amount_in)
        ctx.token_transfer(vault_out, dst_ref.pubkey, auth_ref.pubkey, out, pda_signed=True)
        if status != pool.status:
            fresh = ctx.get(pool_ref.pubkey)
            assert fresh is not None
            buf = bytearray(fresh.data)
            struct.pack_into("<Q", buf, amm.STATUS_OFFSET, status)
            ctx.set(pool_ref.pubkey, replace(fresh, data=bytes(buf)))

    @staticmethod
    def _token(ctx: InvokeContext, key: Pubkey) -> TokenAccount:
        acc = ctx.get(key)
        if acc is None or acc.owner != TOKEN_PROGRAM_ID:
            raise _err(E_INVALID_OWNER, f"{key} is not an SPL token account")
        try:
            return decode_token_account(acc.data)
        except DecodeError as exc:
            raise _err(E_EXPECTED_ACCOUNT, str(exc)) from exc


def vault_account(mint: Pubkey, authority: Pubkey, amount: int, token_program: Pubkey) -> Account:
    """A pool vault token account; a WSOL vault is native (lamports = rent + amount), as on chain."""
    rent = rent_exempt_minimum(TOKEN_ACCOUNT_LEN)
    if mint == WSOL_MINT:
        raw = encode_token_account(mint, authority, amount, is_native=rent)
        return Account(rent + amount, raw, token_program)
    return Account(rent, encode_token_account(mint, authority, amount), token_program)


def _pda(market: Pubkey, seed: bytes) -> Pubkey:
    return Pubkey.find_program_address([bytes(amm.PROGRAM_ID), bytes(market), seed], amm.PROGRAM_ID)[0]


def create_pool(
    *,
    mint_a: Pubkey,
    mint_b: Pubkey,
    reserve_a: int,
    reserve_b: int,
    token_program_a: Pubkey = TOKEN_PROGRAM_ID,
    token_program_b: Pubkey = TOKEN_PROGRAM_ID,
    swap_fee_numerator: int = 25,
    swap_fee_denominator: int = 10_000,
    decimals_a: int = 9,
    decimals_b: int = 6,
    need_take_pnl_a: int = 0,
    need_take_pnl_b: int = 0,
    status: int = amm.STATUS_SWAP_ONLY,
    pool_open_time: int = 0,
    salt: bytes = b"",
) -> tuple[Pubkey, dict[Pubkey, Account]]:
    """A v4 pool (coin = ``mint_a``, pc = ``mint_b``) in the real ``AmmInfo`` layout.

    Vault balances are ``reserve + need_take_pnl`` so the quote reserves equal ``reserve_a/b``.
    Addresses are the program's PDAs derived from a synthetic market key (from the mints and
    ``salt``; vary ``salt`` for several pools of one pair). Returns the pool address and the
    pool, coin/pc vaults (owned by the authority PDA), LP mint, open orders and target orders
    placeholders. The trade-fee fields mirror the swap fee. Raises :class:`UsageError` for a
    Token-2022 mint (v4 supports SPL Token only) or equal mints. The mints are the caller's."""
    if token_program_a != TOKEN_PROGRAM_ID or token_program_b != TOKEN_PROGRAM_ID:
        raise UsageError("raydium_amm_v4 pools support the SPL Token program only")
    if mint_a == mint_b:
        raise UsageError("raydium_amm_v4 pool needs two different mints")
    seeds = [b"solarb-sim-market", bytes(mint_a), bytes(mint_b), salt]
    market = Pubkey.find_program_address(seeds, OPENBOOK_PROGRAM_ID)[0]
    pool = _pda(market, b"amm_associated_seed")
    coin_vault = _pda(market, b"coin_vault_associated_seed")
    pc_vault = _pda(market, b"pc_vault_associated_seed")
    lp_mint = _pda(market, b"lp_mint_associated_seed")
    open_orders = _pda(market, b"open_order_associated_seed")
    target_orders = _pda(market, b"target_associated_seed")
    authority, nonce = Pubkey.find_program_address([amm.AUTHORITY_SEED], amm.PROGRAM_ID)
    data = amm.encode_amm_info(
        status=status, nonce=nonce, coin_vault=coin_vault, pc_vault=pc_vault, coin_mint=mint_a,
        pc_mint=mint_b, lp_mint=lp_mint, open_orders=open_orders, market=market,
        market_program=OPENBOOK_PROGRAM_ID, target_orders=target_orders, amm_owner=AMM_OWNER,
        coin_decimals=decimals_a, pc_decimals=decimals_b,
        trade_fee=(swap_fee_numerator, swap_fee_denominator),
        swap_fee=(swap_fee_numerator, swap_fee_denominator),
        need_take_pnl_coin=need_take_pnl_a, need_take_pnl_pc=need_take_pnl_b,
        pool_open_time=pool_open_time,
    )  # fmt: skip

    def token(mint: Pubkey, amount: int) -> Account:
        return vault_account(mint, authority, amount, TOKEN_PROGRAM_ID)

    lp = encode_mint(9, 0, mint_authority=authority)
    return pool, {
        pool: Account(rent_exempt_minimum(len(data)), data, amm.PROGRAM_ID),
        coin_vault: token(mint_a, reserve_a + need_take_pnl_a),
        pc_vault: token(mint_b, reserve_b + need_take_pnl_b),
        lp_mint: Account(rent_exempt_minimum(len(lp)), lp, TOKEN_PROGRAM_ID),
        open_orders: Account(rent_exempt_minimum(0), b"", amm.PROGRAM_ID),
        target_orders: Account(rent_exempt_minimum(0), b"", amm.PROGRAM_ID),
    }
