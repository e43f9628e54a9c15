"""Signed receipts: every paid trade gets a receipt signed with the exchange's Ed25519 key."""
