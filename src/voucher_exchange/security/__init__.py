"""Secrets: encryption at rest, keyed fingerprints, passwords, API tokens."""
