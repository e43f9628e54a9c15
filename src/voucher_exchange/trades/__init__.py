"""Trades: one voucher sold under one quote, from received to paid."""
