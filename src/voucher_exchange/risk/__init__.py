"""Risk and compliance: reason codes, screening rules, decisions."""
