"""The embedded local cluster: a loopback stand-in for mainnet (JSON-RPC, PubSub, DEX programs, market).

It reuses ``solarb.dex`` math and imports nothing else of the engine.
"""
