"""Shared test material for execution tests: real Raydium pools from shared/data, routes, orders,
and a minimal fake RPC implementing only the calls execution makes (no mock.patch)."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from solders.hash import Hash
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from solarb.dex import raydium_amm_v4, raydium_cpmm
from solarb.dex.base import DexAdapter, PoolState
from solarb.dex.spl_token import TOKEN_PROGRAM_ID, associated_token_address
from solarb.events import Hop, Opportunity, Order
from tests.support.data import SHARED_DATA

DATA = SHARED_DATA
AMM_FILE = DATA / "accounts/raydium_amm_v4/sol_usdc_58oQChx4/58oQChx4yWmvKdwLLZzBi4ChoCc2fqCUWBkwMihLYQo2.json"
CPMM_FILE = DATA / "accounts/raydium_cpmm/wsol_pump_2higKRf2/cpmm_wsol_pump.json"


def load_pools() -> dict[Pubkey, tuple[DexAdapter, PoolState, dict[Pubkey, bytes]]]:
    """The real SOL/USDC AMM v4 pool and the real WSOL/pump CPMM pool, decoded, as the builder's
    pool lookup returns them (adapter, state, aux; constant-product swaps need no aux)."""
    amm = json.loads(AMM_FILE.read_text())
    amm_key = Pubkey.from_string(amm["pubkey"])
    amm_state = raydium_amm_v4.decode_pool(amm_key, base64.b64decode(amm["data"]))
    cp = json.loads(CPMM_FILE.read_text())
    cp_key = Pubkey.from_string(cp["pool"])
    cp_state = raydium_cpmm.decode_pool(cp_key, base64.b64decode(cp["accounts"][cp["pool"]]["data"]))
    return {amm_key: (raydium_amm_v4, amm_state, {}), cp_key: (raydium_cpmm, cp_state, {})}  # type: ignore[dict-item]


def hop(state: PoolState, a_to_b: bool, amount_in: int, amount_out: int) -> Hop:
    """A hop through ``state`` in the given direction with quoted amounts."""
    mi, mo = (state.mint_a, state.mint_b) if a_to_b else (state.mint_b, state.mint_a)
    return Hop(state.address, state.dex, a_to_b, mi, mo, amount_in, amount_out)


def make_order(hops: Sequence[Hop], min_out: int, oid: str = "o1") -> Order:
    """An order over ``hops`` (start mint = first hop's input)."""
    opp = Opportunity(
        id=f"opp-{oid}", start_mint=hops[0].mint_in, hops=tuple(hops),
        amount_in=hops[0].amount_in, amount_out=hops[-1].amount_out,
        slot=433179580, ts_recv_ns=1, ts_detect_ns=2,
    )
    return Order(id=oid, opportunity=opp, min_out=min_out)


def ata(owner: Pubkey, mint: Pubkey, program: Pubkey = TOKEN_PROGRAM_ID) -> Pubkey:
    return associated_token_address(owner, mint, program)


def balance(index: int, mint: Pubkey | str, owner: Pubkey | str, amount: int) -> dict[str, Any]:
    """One getTransaction pre/postTokenBalances entry, in the RPC json shape."""
    return {
        "accountIndex": index, "mint": str(mint), "owner": str(owner),
        "programId": str(TOKEN_PROGRAM_ID),
        "uiTokenAmount": {"amount": str(amount), "decimals": 9, "uiAmount": amount / 1e9,
                          "uiAmountString": str(amount / 1e9)},
    }


def recorded_transaction(
    signature: str, slot: int, fee: int, err: Any, pre: list[dict[str, Any]],
    post: list[dict[str, Any]],
) -> dict[str, Any]:
    """The documented getTransaction reply (shared/data/solana_rpc) with our balances spliced in."""
    doc = json.loads((DATA / "solana_rpc/http_getTransaction.json").read_text())
    result = json.loads(json.dumps(doc["responses"][0]["result"]))
    result["slot"] = slot
    result["transaction"]["signatures"] = [signature]
    meta = result["meta"]
    meta.update(fee=fee, err=err, preTokenBalances=pre, postTokenBalances=post,
                status={"Ok": None} if err is None else {"Err": err})
    return result


@dataclass
class SimResult:
    err: Any
    logs: tuple[str, ...] = ()
    units_consumed: int | None = None


@dataclass
class FakeRpc:
    """Scripted cluster: block height advances ``height_step`` per query; a sent signature gets
    ``land_status`` after ``land_after_polls`` status polls (if ``land_status`` is set)."""

    last_valid: int = 150
    height: int = 100
    height_step: int = 0
    sim_err: Any = None
    land_status: dict[str, Any] | None = None
    land_after_polls: int = 1
    transactions: dict[str, dict[str, Any]] = field(default_factory=dict)
    tx_visible_after: int = 0
    blockhash: Hash = field(default_factory=Hash.new_unique)
    sent: list[bytes] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    polls: int = 0
    tx_reads: int = 0

    async def get_latest_blockhash(self) -> tuple[Hash, int]:
        self.calls.append("getLatestBlockhash")
        return self.blockhash, self.last_valid

    async def get_block_height(self) -> int:
        self.calls.append("getBlockHeight")
        self.height += self.height_step
        return self.height

    async def simulate_transaction(self, raw: bytes, *, sig_verify: bool = False) -> SimResult:
        self.calls.append("simulateTransaction")
        VersionedTransaction.from_bytes(raw)  # must be a real transaction
        return SimResult(self.sim_err, ("Program log: fake",), 1234)

    async def send_transaction(
        self, raw: bytes, *, skip_preflight: bool = True, max_retries: int | None = 0
    ) -> str:
        self.calls.append("sendTransaction")
        self.sent.append(raw)
        try:
            return str(VersionedTransaction.from_bytes(raw).signatures[0])
        except ValueError:  # confirm() unit tests send placeholder bytes
            return "placeholder-signature"

    async def get_signature_statuses(
        self, signatures: Sequence[str], *, search_transaction_history: bool = False
    ) -> list[dict[str, Any] | None]:
        self.calls.append("getSignatureStatuses")
        self.polls += 1
        landed = self.land_status is not None and self.sent and self.polls >= self.land_after_polls
        return [dict(self.land_status) if landed else None for _ in signatures]  # type: ignore[arg-type]

    async def get_transaction(self, signature: str) -> dict[str, Any] | None:
        self.calls.append("getTransaction")
        self.tx_reads += 1
        if self.tx_reads <= self.tx_visible_after:
            return None
        return self.transactions.get(str(signature))
