"""Program id -> DEX adapter module. The one place that lists supported DEXes."""

from __future__ import annotations

from types import ModuleType

from solders.pubkey import Pubkey

from solarb.dex import meteora_dlmm, orca_whirlpool, raydium_amm_v4, raydium_clmm, raydium_cpmm
from solarb.dex.base import DecodeError, DexAdapter

_MODULES: tuple[ModuleType, ...] = (
    raydium_amm_v4, raydium_cpmm, raydium_clmm, orca_whirlpool, meteora_dlmm
)

ADAPTERS: dict[Pubkey, DexAdapter] = {m.PROGRAM_ID: m for m in _MODULES}  # type: ignore[misc]
BY_NAME: dict[str, DexAdapter] = {m.NAME: m for m in _MODULES}  # type: ignore[misc]


def adapter_for(owner: Pubkey) -> DexAdapter:
    """The adapter for pools owned by ``owner``; :class:`DecodeError` if no DEX has that id."""
    try:
        return ADAPTERS[owner]
    except KeyError:
        raise DecodeError(f"account owner {owner} is not a supported DEX program") from None
