"""Issuers: the companies behind each voucher, reached through one adapter interface."""
