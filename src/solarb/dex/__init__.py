"""DEX adapters: decode real pool accounts, quote with the programs' exact integer math, build swaps."""
