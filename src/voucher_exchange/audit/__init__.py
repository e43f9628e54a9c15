"""The audit log: who did what to what, when — append only."""
