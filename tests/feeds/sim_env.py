"""Feed test environment on the real local-cluster pieces: a Bank, its JSON-RPC server and a
(fault-injecting) PubSub server on loopback, with a slot ticker. Watched accounts are real mainnet
account dumps from shared/data/accounts (pool states, vaults), mutated by tests through the Bank.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from typing import Self

from solders.pubkey import Pubkey

from solarb.events import AccountUpdate
from solarb.sim.accounts import Account
from solarb.sim.bank import Bank
from solarb.sim.pubsub_server import PubSubServer
from solarb.sim.rpc_server import RpcServer
from solarb.sim.ws_faults import FaultyPubSubServer, WsFaults
from tests.support.data import SHARED_DATA


def real_accounts(limit: int) -> list[tuple[Pubkey, Account]]:
    """Up to ``limit`` real account dumps (single-account JSON files), sorted by path."""
    out: list[tuple[Pubkey, Account]] = []
    for path in sorted((SHARED_DATA / "accounts").rglob("*.json")):
        try:
            doc = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError):
            continue
        if not isinstance(doc, dict) or "pubkey" not in doc:
            continue
        body = doc.get("account", doc)  # cli_json nests the account; plain dumps do not
        data = body.get("data")
        if isinstance(data, list):
            data = data[0]
        if not isinstance(data, str) or not data:
            continue
        pk = Pubkey.from_string(doc["pubkey"])
        if any(pk == k for k, _ in out):
            continue
        acct = Account(int(body["lamports"]), base64.b64decode(data), Pubkey.from_string(body["owner"]))
        out.append((pk, acct))
        if len(out) == limit:
            break
    return out


async def until(pred: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait (bounded) until ``pred()`` holds."""
    async with asyncio.timeout(timeout):
        while not pred():
            await asyncio.sleep(0.005)


class SimEnv:
    """Bank + RPC + ``n_ws`` PubSub servers (faulty when ``faults`` is given), slots every ``slot_s``."""

    def __init__(self, faults: WsFaults | None = None, *, n_ws: int = 1, slot_s: float = 0.02,
                 n_accounts: int = 6, seed: int = 1) -> None:
        self.bank = Bank()
        self.rpc = RpcServer(self.bank, port=0)
        self.ws: list[PubSubServer] = [
            FaultyPubSubServer(self.bank, faults, seed=seed + i, port=0) if faults is not None
            else PubSubServer(self.bank, port=0)
            for i in range(n_ws)
        ]
        self.slot_s = slot_s
        self.accounts = real_accounts(n_accounts)
        for pk, acct in self.accounts:
            self.bank.set_account(pk, acct)
        self.keys = [pk for pk, _ in self.accounts]
        self.ticking = True
        self._ticker: asyncio.Task[None] | None = None

    @property
    def faulty(self) -> FaultyPubSubServer:
        server = self.ws[0]
        assert isinstance(server, FaultyPubSubServer)
        return server

    async def __aenter__(self) -> Self:
        await self.rpc.start()
        for server in self.ws:
            await server.start()
        self._ticker = asyncio.create_task(self._tick())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
        for server in self.ws:
            await server.stop()
        await self.rpc.stop()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.slot_s)
            if self.ticking:
                self.bank.advance_slot()

    def mutate(self, pk: Pubkey, tag: int) -> bytes:
        """Change ``pk``'s data (last byte := tag) in the current slot; return the new bytes."""
        acct = self.bank.get_account(pk)
        assert acct is not None
        data = acct.data[:-1] + bytes([tag & 0xFF])
        self.bank.set_account(pk, Account(acct.lamports, data, acct.owner))
        return data


class Sink:
    """Collects what a feed delivers."""

    def __init__(self) -> None:
        self.updates: list[AccountUpdate] = []
        self.slots: list[int] = []

    def on_update(self, upd: AccountUpdate) -> None:
        self.updates.append(upd)

    def on_slot(self, slot: int) -> None:
        self.slots.append(slot)

    def last(self, pk: Pubkey) -> AccountUpdate | None:
        for upd in reversed(self.updates):
            if upd.pubkey == pk:
                return upd
        return None
