"""Master-key rotation: every owner of a secret re-encrypts its own rows, in one transaction."""
