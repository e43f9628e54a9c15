"""Sandbox: the simulated outside world (issuer, payout rail, identity) for demos and tests."""
