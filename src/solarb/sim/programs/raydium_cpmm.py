"""Model of the Raydium CPMM (cp-swap) program for the local cluster, plus the pool factory.

Executes ``swap_base_input`` with the program's Anchor account constraints (error codes as
Anchor reports them), the adapter's exact math (:func:`solarb.dex.raydium_cpmm.quote_detail`),
the token moves, and the pool fields the program updates (protocol / fund / creator fee
accruals, ``recent_epoch`` when the Clock sysvar exists). The observation ring buffer is not
updated (nothing in solarb reads it). Other instructions fail with Anchor's
``InstructionFallbackNotFound`` (101).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import replace

from solders.pubkey import Pubkey

from solarb.dex import raydium_cpmm as cp
from solarb.dex.base import DecodeError, MissingAccount, QuoteError
from solarb.dex.spl_token import (
    TOKEN_PROGRAM_ID,
    TOKEN_PROGRAMS,
    decode_token_account,
    encode_mint,
)
from solarb.errors import UsageError
from solarb.sim.accounts import Account, rent_exempt_minimum
from solarb.sim.programs.base import AccountRef, InvokeContext, ProgramError
from solarb.sim.programs.raydium_amm_v4 import vault_account

__all__ = ["RaydiumCpmmModel", "create_pool", "amm_config_address"]

PROTOCOL_OWNER = Pubkey.from_string("ProCXqRcXJjoUd1RNoo28bSizAA6EEqt9wURZYPDc5u")
FUND_OWNER = Pubkey.from_string("FUNDduJTA7XcckKHKfAoEnnhuSud2JUCUZv6opWEjrBU")
POOL_CREATOR = Pubkey.from_string("GThUX1Atko4tqhN2NaiTazWSeFWMuiUvfFnyJyUghFMJ")
_U64 = struct.Struct("<Q")

# Anchor framework error codes.
A_FALLBACK_NOT_FOUND = 101
A_CONSTRAINT_RAW = 2003
A_CONSTRAINT_SEEDS = 2006
A_CONSTRAINT_ADDRESS = 2012
A_DISCRIMINATOR_MISMATCH = 3002
A_DID_NOT_DESERIALIZE = 3003
A_NOT_ENOUGH_KEYS = 3005
A_OWNED_BY_WRONG_PROGRAM = 3007
A_INVALID_PROGRAM_ID = 3008
A_NOT_SIGNER = 3010


def _fail(code: int, what: str) -> ProgramError:
    return ProgramError(f"raydium_cpmm: {what} ({cp.ERRORS.get(code, 'anchor')} {code})", code=code)


def _clock(ctx: InvokeContext) -> bytes | None:
    """The Clock sysvar's data (the program reads it by syscall), None when the cluster has none."""
    try:
        acc = ctx.get(cp.CLOCK_SYSVAR)
    except ProgramError:
        return None
    return acc.data if acc is not None else None


def amm_config_address(index: int) -> Pubkey:
    """The ``AmmConfig`` PDA for ``index``: seeds ``["amm_config", index as u16 big-endian]``."""
    return Pubkey.find_program_address([b"amm_config", index.to_bytes(2, "big")], cp.PROGRAM_ID)[0]


class RaydiumCpmmModel:
    """The CPMM program as the cluster runs it."""

    program_id = cp.PROGRAM_ID

    def execute(self, ctx: InvokeContext, accounts: Sequence[AccountRef], data: bytes) -> None:
        """Run one instruction; only ``swap_base_input`` is modelled."""
        if len(data) != 24 or data[:8] != cp.SWAP_BASE_INPUT_DISCRIMINATOR:
            raise _fail(A_FALLBACK_NOT_FOUND, "only swap_base_input is modelled")
        amount_in, min_out = struct.unpack_from("<QQ", data, 8)
        if len(accounts) < 13:
            raise _fail(A_NOT_ENOUGH_KEYS, "not enough accounts")
        (payer, auth, config_ref, pool_ref, user_in, user_out, vault_in, vault_out, prog_in,
         prog_out, mint_in, mint_out, observation) = accounts[:13]  # fmt: skip
        ctx.consume(40_000)
        if not payer.is_signer:
            raise _fail(A_NOT_SIGNER, "payer did not sign")
        if auth.pubkey != cp.AUTHORITY:
            raise _fail(A_CONSTRAINT_SEEDS, "authority is not the program's PDA")
        pool_acc = ctx.get(pool_ref.pubkey)
        if pool_acc is None or pool_acc.owner != cp.PROGRAM_ID:
            raise _fail(A_OWNED_BY_WRONG_PROGRAM, "pool account owner")
        try:
            pool = cp.decode_pool(pool_ref.pubkey, pool_acc.data)
        except DecodeError as exc:
            raise _fail(A_DISCRIMINATOR_MISMATCH, str(exc)) from exc
        if config_ref.pubkey != pool.amm_config:
            raise _fail(A_CONSTRAINT_ADDRESS, "amm_config")
        config_acc = ctx.get(config_ref.pubkey)
        if config_acc is None or config_acc.owner != cp.PROGRAM_ID:
            raise _fail(A_OWNED_BY_WRONG_PROGRAM, "amm_config owner")
        vaults = (pool.vault_a, pool.vault_b)
        if vault_in.pubkey not in vaults or vault_out.pubkey not in vaults:
            raise _fail(A_CONSTRAINT_RAW, "vault is not one of the pool's")
        for prog in (prog_in, prog_out):
            if prog.pubkey not in TOKEN_PROGRAMS:
                raise _fail(A_INVALID_PROGRAM_ID, f"{prog.pubkey} is not a token program")
        vin_acc, vout_acc = ctx.get(vault_in.pubkey), ctx.get(vault_out.pubkey)
        if vin_acc is None or vout_acc is None:
            raise _fail(A_OWNED_BY_WRONG_PROGRAM, "vault missing")
        try:
            vin_mint = decode_token_account(vin_acc.data).mint
            vout_mint = decode_token_account(vout_acc.data).mint
        except DecodeError as exc:
            raise _fail(A_DID_NOT_DESERIALIZE, str(exc)) from exc
        if mint_in.pubkey != vin_mint:
            raise _fail(A_CONSTRAINT_ADDRESS, "input mint")
        if mint_out.pubkey != vout_mint:
            raise _fail(A_CONSTRAINT_ADDRESS, "output mint")
        if observation.pubkey != pool.observation_key:
            raise _fail(A_CONSTRAINT_ADDRESS, "observation state")
        if (vault_in.pubkey, vault_out.pubkey) == vaults:
            a_to_b = True
        elif (vault_out.pubkey, vault_in.pubkey) == vaults:
            a_to_b = False
        else:
            raise _fail(cp.ERR_INVALID_VAULT, "input and output vault are the same")

        aux: dict[Pubkey, bytes] = {}
        for key in cp.aux_accounts(pool):  # config, vaults, Token-2022 mints: all instruction accounts
            acc = ctx.get(key)
            if acc is not None:
                aux[key] = acc.data
        clock = _clock(ctx)
        if clock is not None:
            aux[cp.CLOCK_SYSVAR] = clock
        try:
            s = cp.quote_detail(pool, aux, amount_in, a_to_b)
        except MissingAccount as exc:
            raise ProgramError(f"raydium_cpmm: {exc}", builtin="NotEnoughAccountKeys") from exc
        except QuoteError as exc:
            if exc.code is None:
                raise ProgramError(
                    f"raydium_cpmm: program panicked: {exc}", builtin="ProgramFailedToComplete"
                ) from exc
            raise ProgramError(f"raydium_cpmm: {exc}", code=exc.code) from exc
        if s.amount_received < min_out:
            raise _fail(cp.ERR_EXCEEDED_SLIPPAGE, f"received {s.amount_received} < minimum {min_out}")

        ctx.token_transfer(user_in.pubkey, vault_in.pubkey, payer.pubkey, amount_in)
        ctx.token_transfer(
            vault_out.pubkey, user_out.pubkey, auth.pubkey, s.amount_out, pda_signed=True
        )

        fresh = ctx.get(pool_ref.pubkey)
        assert fresh is not None
        buf = bytearray(fresh.data)
        side_in = 0 if a_to_b else 1
        side_creator = side_in if s.creator_fee_on_input else 1 - side_in
        for base, delta, side in (
            (cp.OFF_PROTOCOL_FEES_0, s.protocol_fee, side_in),
            (cp.OFF_FUND_FEES_0, s.fund_fee, side_in),
            (cp.OFF_CREATOR_FEES_0, s.creator_fee, side_creator),
        ):
            off = base + 8 * side
            _U64.pack_into(buf, off, _U64.unpack_from(buf, off)[0] + delta)
        clock = aux.get(cp.CLOCK_SYSVAR)
        if clock is not None and len(clock) >= 24:
            buf[cp.OFF_RECENT_EPOCH : cp.OFF_RECENT_EPOCH + 8] = clock[16:24]
        ctx.set(pool_ref.pubkey, replace(fresh, data=bytes(buf)))


def create_pool(
    *,
    mint_a: Pubkey,
    mint_b: Pubkey,
    reserve_a: int,
    reserve_b: int,
    token_program_a: Pubkey = TOKEN_PROGRAM_ID,
    token_program_b: Pubkey = TOKEN_PROGRAM_ID,
    trade_fee_rate: int = 2500,
    protocol_fee_rate: int = 120_000,
    fund_fee_rate: int = 40_000,
    creator_fee_rate: int = 0,
    enable_creator_fee: bool = False,
    creator_fee_on: int = 0,
    config_index: int = 0,
    decimals_a: int = 9,
    decimals_b: int = 6,
    open_time: int = 0,
    status: int = 0,
) -> tuple[Pubkey, dict[Pubkey, Account]]:
    """A CPMM pool, its ``AmmConfig`` (index ``config_index``, PDA), vaults (token accounts owned
    by the authority PDA under each side's token program), LP mint and ``ObservationState``, all
    in the on-chain layouts and at the program's PDAs.

    Rates are parts per million. The program orders mints (token_0 < token_1 by bytes); if
    ``mint_a`` sorts after ``mint_b`` the two sides (mint, reserve, token program, decimals) are
    swapped, so the decoded pool's ``mint_a`` is always token_0. One pool per (config, pair):
    use another ``config_index`` for another fee tier; a config index must keep one set of rates.
    Raises :class:`UsageError` for equal mints, unknown token programs or invalid rates."""
    if mint_a == mint_b:
        raise UsageError("raydium_cpmm pool needs two different mints")
    if token_program_a not in TOKEN_PROGRAMS or token_program_b not in TOKEN_PROGRAMS:
        raise UsageError("raydium_cpmm token programs must be SPL Token or Token-2022")
    if not (trade_fee_rate + creator_fee_rate < cp.FEE_RATE_DENOMINATOR
            and protocol_fee_rate + fund_fee_rate <= cp.FEE_RATE_DENOMINATOR
            and creator_fee_on in (0, 1, 2)):  # fmt: skip
        raise UsageError("raydium_cpmm fee rates out of the program's bounds")
    if bytes(mint_a) > bytes(mint_b):
        mint_a, mint_b = mint_b, mint_a
        reserve_a, reserve_b = reserve_b, reserve_a
        token_program_a, token_program_b = token_program_b, token_program_a
        decimals_a, decimals_b = decimals_b, decimals_a
    pid = cp.PROGRAM_ID
    config = amm_config_address(config_index)
    config_bump = Pubkey.find_program_address([b"amm_config", config_index.to_bytes(2, "big")], pid)[1]
    pool = Pubkey.find_program_address([b"pool", bytes(config), bytes(mint_a), bytes(mint_b)], pid)[0]
    vault_a = Pubkey.find_program_address([b"pool_vault", bytes(pool), bytes(mint_a)], pid)[0]
    vault_b = Pubkey.find_program_address([b"pool_vault", bytes(pool), bytes(mint_b)], pid)[0]
    lp_mint = Pubkey.find_program_address([b"pool_lp_mint", bytes(pool)], pid)[0]
    observation = Pubkey.find_program_address([b"observation", bytes(pool)], pid)[0]
    lp_supply = math.isqrt(reserve_a * reserve_b)

    state = cp.CpmmPool(
        address=pool, dex=cp.NAME, mint_a=mint_a, mint_b=mint_b, vault_a=vault_a, vault_b=vault_b,
        token_program_a=token_program_a, token_program_b=token_program_b, amm_config=config,
        pool_creator=POOL_CREATOR, lp_mint=lp_mint, observation_key=observation,
        auth_bump=cp.AUTH_BUMP, status=status, lp_mint_decimals=9, mint_0_decimals=decimals_a,
        mint_1_decimals=decimals_b, lp_supply=lp_supply, protocol_fees_token_0=0,
        protocol_fees_token_1=0, fund_fees_token_0=0, fund_fees_token_1=0, open_time=open_time,
        recent_epoch=0, creator_fee_on=creator_fee_on, enable_creator_fee=enable_creator_fee,
        creator_fees_token_0=0, creator_fees_token_1=0,
    )  # fmt: skip
    cfg = cp.AmmConfig(
        address=config, bump=config_bump, disable_create_pool=False, index=config_index,
        trade_fee_rate=trade_fee_rate, protocol_fee_rate=protocol_fee_rate,
        fund_fee_rate=fund_fee_rate, create_pool_fee=150_000_000, protocol_owner=PROTOCOL_OWNER,
        fund_owner=FUND_OWNER, creator_fee_rate=creator_fee_rate,
    )  # fmt: skip
    obs = bytearray(cp.OBSERVATION_LEN)
    obs[0:8] = cp.OBSERVATION_DISCRIMINATOR
    obs[8] = 1  # initialized
    obs[11:43] = bytes(pool)

    def acc(data: bytes, owner: Pubkey) -> Account:
        return Account(rent_exempt_minimum(len(data)), data, owner)

    return pool, {
        pool: acc(cp.encode_pool(state), pid),
        config: acc(cp.encode_amm_config(cfg), pid),
        vault_a: vault_account(mint_a, cp.AUTHORITY, reserve_a, token_program_a),
        vault_b: vault_account(mint_b, cp.AUTHORITY, reserve_b, token_program_b),
        lp_mint: acc(encode_mint(9, lp_supply, mint_authority=cp.AUTHORITY), TOKEN_PROGRAM_ID),
        observation: acc(bytes(obs), pid),
    }
