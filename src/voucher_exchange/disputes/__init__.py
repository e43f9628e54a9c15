"""Disputes: the signed evidence record of a refused or reversed trade, and the seller's appeal."""
