"""Model of the Associated Token Account program (``ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL``).

Instructions: Create (empty data or ``[0]``) and CreateIdempotent (``[1]``); accounts
``[payer (s,w), ata (w), wallet, mint, system_program, token_program]``. Like the real program it
derives the address from ``(wallet, token_program, mint)``, then by CPI asks the token program for the
account size (GetAccountDataSize), creates the account from the payer's lamports through the System
program (CreateAccount, or Transfer+Allocate+Assign when the address was prefunded), and initializes it
(InitializeImmutableOwner + InitializeAccount3). CreateIdempotent returns early when the account is
already a token account of the right wallet and mint.

Compute: 3,000 units base + 1,500 per bump-seed attempt of the address derivation, plus what the
CPIs consume (an approximation of the real program's ~20k for a creation).

Note: ``solarb.dex.spl_token.ASSOCIATED_TOKEN_PROGRAM_ID`` is wrong in the seed commit (…WTLoFBoj2znDvNeP);
the real program id is :data:`ASSOCIATED_TOKEN_PROGRAM_ID` below, used here for registration and derivation.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from solders.pubkey import Pubkey

from solarb.dex.spl_token import SYSTEM_PROGRAM_ID, TOKEN_ACCOUNT_LEN, TOKEN_PROGRAMS
from solarb.sim.accounts import rent_exempt_minimum
from solarb.sim.programs.base import AccountRef, InvokeContext, ProgramError

ASSOCIATED_TOKEN_PROGRAM_ID = Pubkey.from_string("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL")

INVALID_OWNER = 0  # AssociatedTokenAccountError::InvalidOwner
BASE_UNITS = 3000
UNITS_PER_BUMP_ATTEMPT = 1500

_IMMUTABLE_OWNER_EXT = b"\x07\x00"


def associated_token_address(
    wallet: Pubkey, mint: Pubkey, token_program: Pubkey
) -> tuple[Pubkey, int]:
    """The associated token account of ``wallet`` for ``mint`` under ``token_program``, with bump."""
    return Pubkey.find_program_address(
        [bytes(wallet), bytes(token_program), bytes(mint)], ASSOCIATED_TOKEN_PROGRAM_ID
    )


class AssociatedTokenProgram:
    """The ATA program model (see module docstring). Needs a context that supports ``invoke`` (CPI)."""

    program_id = ASSOCIATED_TOKEN_PROGRAM_ID
    builtin = False

    def execute(self, ctx: InvokeContext, accounts: Sequence[AccountRef], data: bytes) -> None:
        """Execute Create / CreateIdempotent."""
        mode = data[0] if data else 0
        if mode not in (0, 1) or len(data) > 1:
            ctx.consume(BASE_UNITS)
            raise ProgramError("unsupported ATA instruction", builtin="InvalidInstructionData")
        ctx.log("CreateIdempotent" if mode == 1 else "Create")
        if len(accounts) < 6:
            raise ProgramError("not enough account keys", builtin="NotEnoughAccountKeys")
        payer, ata, wallet, mint, system, token = accounts[:6]
        invoke = getattr(ctx, "invoke")  # the cluster's TxContext; CPI is not in the base protocol
        address, bump = associated_token_address(wallet.pubkey, mint.pubkey, token.pubkey)
        ctx.consume(BASE_UNITS + UNITS_PER_BUMP_ATTEMPT * (256 - bump))
        if address != ata.pubkey:
            ctx.log("Error: Associated address does not match seed derivation")
            raise ProgramError("ATA address mismatch", builtin="InvalidSeeds")
        if token.pubkey not in TOKEN_PROGRAMS:
            raise ProgramError("not a token program", builtin="IncorrectProgramId")
        existing = ctx.get(ata.pubkey)
        if mode == 1 and existing is not None and existing.owner == token.pubkey \
                and len(existing.data) >= TOKEN_ACCOUNT_LEN and existing.data[108] != 0:
            if existing.data[32:64] != bytes(wallet.pubkey):
                ctx.log("Error: Associated token account owner does not match address derivation")
                raise ProgramError("ATA owner mismatch", code=INVALID_OWNER)
            if existing.data[0:32] != bytes(mint.pubkey):
                raise ProgramError("ATA mint mismatch", builtin="InvalidAccountData")
            return
        if existing is not None and existing.owner != SYSTEM_PROGRAM_ID:
            raise ProgramError("ATA address owned by another program", builtin="IllegalOwner")
        if system.pubkey != SYSTEM_PROGRAM_ID:
            raise ProgramError("system program expected", builtin="IncorrectProgramId")

        is_2022 = token.pubkey != TOKEN_PROGRAMS[0]
        size_req = b"\x15" + (_IMMUTABLE_OWNER_EXT if is_2022 else b"")
        invoke(token.pubkey, [AccountRef(mint.pubkey, False, False)], size_req)
        ret = getattr(ctx, "return_data", None)
        space = int.from_bytes(ret[1], "little") if ret else TOKEN_ACCOUNT_LEN
        self._create_pda(ctx, payer, ata.pubkey, token.pubkey, space, existing.lamports if existing else 0)
        ctx.log("Initialize the associated token account")
        target = [AccountRef(ata.pubkey, False, True)]
        invoke(token.pubkey, target, b"\x16")
        invoke(token.pubkey, [AccountRef(ata.pubkey, False, True), AccountRef(mint.pubkey, False, False)],
               b"\x12" + bytes(wallet.pubkey))

    @staticmethod
    def _create_pda(ctx: InvokeContext, payer: AccountRef, ata: Pubkey, owner: Pubkey,
                    space: int, current: int) -> None:
        invoke = getattr(ctx, "invoke")
        rent = rent_exempt_minimum(space)
        payer_ref = AccountRef(payer.pubkey, True, True)
        ata_ref = AccountRef(ata, True, True)
        if current == 0:
            data = struct.pack("<IQQ32s", 0, rent, space, bytes(owner))
            invoke(SYSTEM_PROGRAM_ID, [payer_ref, ata_ref], data, signers=(ata,))
            return
        if rent > current:
            invoke(SYSTEM_PROGRAM_ID, [payer_ref, AccountRef(ata, False, True)],
                   struct.pack("<IQ", 2, rent - current))
        invoke(SYSTEM_PROGRAM_ID, [ata_ref], struct.pack("<IQ", 8, space), signers=(ata,))
        invoke(SYSTEM_PROGRAM_ID, [ata_ref], struct.pack("<I32s", 1, bytes(owner)), signers=(ata,))
