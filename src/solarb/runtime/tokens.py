"""Display names of tokens (symbol, decimals) for status lines and summaries."""

from __future__ import annotations

from solders.pubkey import Pubkey

from solarb.dex.spl_token import WSOL_MINT

KNOWN_SYMBOLS = {
    str(WSOL_MINT): "SOL",
    "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v": "USDC",
    "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB": "USDT",
}


def symbols_for(decimals: dict[Pubkey, int]) -> dict[str, tuple[str, int]]:
    """Mint -> (symbol, decimals); unknown mints show the first 4 characters of their address."""
    return {str(m): (KNOWN_SYMBOLS.get(str(m), str(m)[:4]), d) for m, d in decimals.items()}
