"""Erasing an account: what the law lets us forget, and what it makes us keep."""
