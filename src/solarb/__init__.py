"""solarb: a Solana DEX arbitrage engine with exact local quotes and an embedded local cluster."""

__version__ = "0.1.0"
__all__ = ["__version__"]
