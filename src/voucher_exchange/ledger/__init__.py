"""Double-entry ledger: balanced, immutable, two-phase transfers."""
