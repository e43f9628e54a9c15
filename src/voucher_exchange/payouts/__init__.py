"""Payouts: money sent to a seller's verified bank account, exactly once."""
