"""Checks and views that span trades, payouts, jobs and the ledger."""
