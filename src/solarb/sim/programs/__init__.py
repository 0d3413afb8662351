"""Models of on-chain programs executed by the local cluster."""
