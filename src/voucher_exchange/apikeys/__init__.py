"""Partner API keys: scoped, hashed, rolled with an overlap, revoked at once (docs/partners.md)."""
