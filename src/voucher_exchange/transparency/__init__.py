"""The public transparency report: how the exchange behaved over a month or the last 30 days."""
